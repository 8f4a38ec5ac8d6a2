"""The checks for the actions of the market mechanisms beyond bilateral negotiation.

Pure functions with the ``Check`` signature of ``protocols.constraints``. They read the
mechanism's state through ``MechanismView``; a view that lacks a method (a plain
``MarketView``) is treated as the bilateral market, where only the negotiation actions exist.

The double-auction rules follow Gode and Sunder (1993): one unit per order; only the best
bid and the best ask stand; a new bid must be higher than the standing bid (a new ask lower
than the standing ask) or it is refused; a bid at or above the standing ask trades at the
ask's price (and an ask at or below the standing bid at the bid's price).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from protocols.actions import (
    ActionBase,
    BuyNow,
    Inspect,
    PlaceOrder,
    RequestMatch,
    SealedBid,
    SetPrice,
)
from protocols.money import to_micros
from protocols.quick_init import quick_init
from protocols.state import Listing, MarketView
from protocols.verdict import Rule, Verdict

if TYPE_CHECKING:
    from protocols.constraints import ProtocolConfig


@quick_init
@dataclass(frozen=True, slots=True)
class Order:
    """A standing order in the double auction: one unit at a limit price (micro-units)."""

    agent: str
    price: int
    unit: int
    seq: int = 0


class MechanismView(MarketView, Protocol):
    """What the mechanism checks read, beyond ``MarketView``."""

    @property
    def mechanism(self) -> str:
        """The mechanism's name (a class attribute of each market)."""
        ...

    def book_top(self, service: str) -> tuple[Order | None, Order | None]:
        """The standing bid and ask of a service's book."""
        ...

    def next_unit(self, agent_id: str, service: str, side: str) -> int | None:
        """Index of the agent's next unit to buy or sell, or None when it has none left."""
        ...

    def sells(self, agent_id: str, service: str) -> bool:
        """Whether the agent sells this service."""
        ...

    def auction_open(self, listing_id: str) -> bool:
        """Whether the listing's sealed-bid auction still takes bids."""
        ...

    def match_for(self, agent_id: str, service: str, max_price: int) -> Listing | None:
        """The listing the intermediary would match this buyer with, if any."""
        ...


def price_verdict(price: float, cfg: ProtocolConfig) -> Verdict | None:
    """The price-bounds rule of the mechanism checks: None for a finite price inside the band."""
    if not math.isfinite(price):
        return Verdict.reject(Rule.PRICE_BOUNDS, f"price must be a finite number, got {price}")
    if not cfg.min_price <= price <= cfg.max_price:
        return Verdict.reject(
            Rule.PRICE_BOUNDS, f"price {price:g} is outside the allowed band [{cfg.min_price:g}, {cfg.max_price:g}]"
        )
    return None


def _funds(view: MarketView, who: str, need: int) -> Verdict | None:
    return _short(need, view.available_micros(who))


def _short(need: int, have: int) -> Verdict | None:
    if have < need:
        return Verdict.reject(Rule.FUNDS, f"the price is {need / 1e6:.2f} but you only have {have / 1e6:.2f} available")
    return None


def improves(order: PlaceOrder, bid: Order | None, ask: Order | None, price: int) -> Verdict | None:
    """Gode-Sunder improvement rule: refuse a bid not above the standing bid (an ask not below the ask)."""
    if order.side == "buy" and bid is not None and price <= bid.price:
        return Verdict.reject(
            Rule.IMPROVEMENT,
            f"your bid {price / 1e6:.2f} does not improve the standing bid {bid.price / 1e6:.2f}; bid higher",
        )
    if order.side == "sell" and ask is not None and price >= ask.price:
        return Verdict.reject(
            Rule.IMPROVEMENT,
            f"your ask {price / 1e6:.2f} does not improve the standing ask {ask.price / 1e6:.2f}; ask lower",
        )
    return None


def check_order(action: ActionBase, view: MechanismView, who: str, cfg: ProtocolConfig) -> Verdict | None:
    """A double-auction order: in band, for a unit the trader has, affordable, improving the book."""
    if not isinstance(action, PlaceOrder):
        return None
    p = action.price
    if not math.isfinite(p) or not cfg.min_price <= p <= cfg.max_price:
        return price_verdict(p, cfg)  # the same tests in the same order: it rejects
    service, side = action.service, action.side
    bid, ask = view.book_top(service)
    full = getattr(view, "book_rule", "gode_sunder") == "full"
    unit = view.next_unit(who, service, side)
    have = view.available_micros(who) if side == "buy" else 0
    return order_verdict(action, who, to_micros(p), unit, bid, ask, have, full)


def order_verdict(
    action: PlaceOrder,
    who: str,
    price: int,
    unit: int | None,
    bid: Order | None,
    ask: Order | None,
    have: int,
    full_book: bool,
) -> Verdict | None:
    """``check_order`` of an order whose price is finite and in the band, on facts read once: ``price``
    the order's in micro-units, ``unit`` the trader's next unit on the order's side (None: none left), ``bid`` and ``ask`` the book's
    top, ``have`` the trader's money (read for a bid only), ``full_book`` whether every order stands (no improvement
    rule). A mechanism that applies orders in one pass with their check calls this too."""
    side = action.side
    if unit is None:
        verb = "buy" if side == "buy" else "sell"
        return Verdict.reject(Rule.CAPACITY, f"you have no units of '{action.service}' left to {verb}")
    if action.unit is not None and action.unit != unit:
        return Verdict.reject(Rule.STALE_ORDER, f"unit {action.unit} is not your next unit; your next unit is {unit}")
    other = ask if side == "buy" else bid
    if other is not None and other.agent == who:
        return Verdict.reject(Rule.SELF_TRADE, "that order would trade with your own standing order")
    if side == "buy":
        need = ask.price if ask is not None and price >= ask.price else price
        if have < need:  # ``_short``'s test, here: most bids pass it
            return _short(need, have)
    if full_book:
        return None  # a full book takes every order; price-time priority decides
    # ``improves`` only where it rejects (it passes every other order)
    if (side == "buy" and bid is not None and price <= bid.price) or (
        side == "sell" and ask is not None and price >= ask.price
    ):
        return improves(action, bid, ask, price)
    return None


def _listing(view: MarketView, listing_id: str) -> Listing | Verdict:
    li = view.listing(listing_id)
    if li is None:
        return Verdict.reject(Rule.UNKNOWN_LISTING, f"no listing '{listing_id}'; use a listing id from the market view")
    return li


def check_posted(action: ActionBase, view: MechanismView, who: str, cfg: ProtocolConfig) -> Verdict | None:
    """Posted prices, sealed bids, matches and inspections: valid listing, price and funds."""
    if isinstance(action, SetPrice):
        if not view.sells(who, action.service):
            return Verdict.reject(Rule.OWN_LISTING, f"you do not sell '{action.service}'")
        return price_verdict(action.price, cfg)
    if isinstance(action, RequestMatch):
        bad = price_verdict(action.max_price, cfg)
        if bad:
            return bad
        if view.match_for(who, action.service, to_micros(action.max_price)) is None:
            return Verdict.reject(
                Rule.UNKNOWN_LISTING,
                f"no seller of '{action.service}' at or below {action.max_price:g} that you can afford",
            )
        return None
    if not isinstance(action, (BuyNow, SealedBid, Inspect)):
        return None
    li = _listing(view, action.listing_id)
    if isinstance(li, Verdict):
        return li
    if li.seller == who:
        return Verdict.reject(Rule.SELF_TRADE, f"listing {li.id} is your own; you cannot trade with yourself")
    if li.remaining <= 0:
        return Verdict.reject(Rule.CAPACITY, f"listing {li.id} has no units left")
    if isinstance(action, BuyNow):
        return _funds(view, who, li.ask_micros)
    if isinstance(action, SealedBid):
        if not view.auction_open(li.id):
            return Verdict.reject(Rule.AUCTION, f"the auction of listing {li.id} is closed")
        bad = price_verdict(action.price, cfg)
        if bad:
            return bad
        if to_micros(action.price) < li.ask_micros:
            return Verdict.reject(Rule.AUCTION, f"bid at least the reserve price {li.ask_micros / 1e6:.2f}")
        return _funds(view, who, to_micros(action.price))
    return None
