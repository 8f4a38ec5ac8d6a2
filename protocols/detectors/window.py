"""Deals of a sliding window of rounds, kept up to date round by round instead of re-read whole.

A detector that reads the same window every round, moved on by one round, keeps a
``SellerPrices`` across rounds: the round that entered the window is added, the round that left
is taken off (its deals are each seller's oldest), so a round costs its own deals and the ones
that left, not every deal of the window. Read from a fresh ``SellerPrices`` the same window gives
the same figures: each seller's prices are in deal order and ``sellers`` lists the sellers in
order of their first deal in the window, as a pass over the window's deals would find them.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence

from protocols.detectors.facts import RoundFacts


class SellerPrices:
    """Per service, per seller: the prices of the deals in rounds ``window[-(length + skip) : -skip]``.

    ``advance(window)`` moves it to the given window (oldest round first) and returns the
    ``(service, seller)`` pairs whose prices changed; a window that does not continue the last
    one (a round went missing, or an unrelated window) is read whole.
    """

    def __init__(self, length: int, skip: int = 0) -> None:
        self.length, self.skip = length, skip
        self.rounds: deque[RoundFacts] = deque()  # the rounds held, oldest first
        self.prices: dict[str, dict[str, deque[float]]] = {}  # service -> seller -> prices, in deal order
        self._first: dict[str, dict[str, deque[int]]] = {}  # the same deals' places in the order they were added
        self._added = 0
        self.count: dict[str, int] = {}  # deals of each service held

    def advance(self, window: Sequence[RoundFacts]) -> set[tuple[str, str]]:
        """Hold the window's rounds ``[-(length + skip) : len - skip]``; the (service, seller) pairs that changed."""
        end = max(len(window) - self.skip, 0)
        want = window[max(end - self.length, 0) : end]
        held = self.rounds
        wanted = {id(rf) for rf in want}
        changed: set[tuple[str, str]] = set()
        while held and id(held[0]) not in wanted:
            self._drop(held.popleft(), changed)
        n = len(held)
        if n > len(want) or any(a is not b for a, b in zip(held, want, strict=False)):
            while held:  # not a continuation: start again from the window itself
                self._drop(held.popleft(), changed)
            n = 0
        for rf in want[n:]:
            self._add(rf, changed)
        return changed

    def sellers(self, service: str) -> list[str]:
        """The service's sellers in order of their first deal held."""
        first = self._first.get(service, {})
        return sorted(first, key=lambda s: first[s][0])

    def _add(self, rf: RoundFacts, changed: set[tuple[str, str]]) -> None:
        self.rounds.append(rf)
        for t in rf.trades:
            self._added += 1
            self.prices.setdefault(t.service, {}).setdefault(t.seller, deque()).append(t.price)
            self._first.setdefault(t.service, {}).setdefault(t.seller, deque()).append(self._added)
            self.count[t.service] = self.count.get(t.service, 0) + 1
            changed.add((t.service, t.seller))

    def _drop(self, rf: RoundFacts, changed: set[tuple[str, str]]) -> None:
        for t in rf.trades:
            by, first = self.prices[t.service], self._first[t.service]
            by[t.seller].popleft()
            first[t.seller].popleft()
            self.count[t.service] -= 1
            changed.add((t.service, t.seller))
            if not by[t.seller]:
                del by[t.seller], first[t.seller]
            if not by:
                del self.prices[t.service], self._first[t.service], self.count[t.service]
