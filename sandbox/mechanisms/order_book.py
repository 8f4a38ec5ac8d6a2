"""A full limit-order book with price-time priority: the double auction's alternative book rule.

Unlike the Gode-Sunder book (only the best bid and ask stand, the book clears after each
trade), every order stands until it trades or its trader replaces it; one standing order
per trader and service. An incoming order that crosses the best opposite order trades at
that standing order's price; the rest of the book stays.
"""

from __future__ import annotations

from protocols.market_rules import Order


class FullBook:
    """Bids and asks of one service, best first (bids: highest price, then earliest)."""

    def __init__(self) -> None:
        self.bids: list[Order] = []
        self.asks: list[Order] = []

    def top(self) -> tuple[Order | None, Order | None]:
        """The best bid and the best ask."""
        return (self.bids[0] if self.bids else None), (self.asks[0] if self.asks else None)

    def remove(self, agent: str) -> None:
        """Withdraw the agent's standing orders."""
        self.bids = [o for o in self.bids if o.agent != agent]
        self.asks = [o for o in self.asks if o.agent != agent]

    def pop_best(self, side: str) -> Order:
        """Remove and return the best order of ``side`` ('buy' or 'sell')."""
        return (self.bids if side == "buy" else self.asks).pop(0)

    def rest(self, side: str, order: Order) -> None:
        """Let ``order`` stand, replacing the trader's earlier order."""
        self.remove(order.agent)
        if side == "buy":
            self.bids.append(order)
            self.bids.sort(key=lambda o: (-o.price, o.seq))
        else:
            self.asks.append(order)
            self.asks.sort(key=lambda o: (o.price, o.seq))
