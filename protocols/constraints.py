"""The checks ``Protocol.submit`` runs, each a pure function that passes (None) or rejects.

A check reads the action, the market view, who submitted it and the protocol's settings.
They run in the fixed order of ``DEFAULT_CHECKS``: identity, breaker state, the mechanism's
actions and its own checks (``protocols.mechanism_table``), dialogue, communication, then
action constraints (prices, capacity, self-trade, funds).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

from protocols.actions import (
    Accept,
    ActionBase,
    Counter,
    Deliver,
    MakeOffer,
    Message,
    PostService,
    ReportOutcome,
    RequestQuote,
)
from protocols.dialogue import THREAD_ACTIONS, Deadlines, move
from protocols.market_rules import MechanismView
from protocols.mechanism_table import check_mechanism, check_mechanism_rules
from protocols.money import to_micros
from protocols.state import Listing, MarketView, Thread
from protocols.trusted import field_or_none
from protocols.verdict import Rule, Verdict


@dataclass(frozen=True)
class ProtocolConfig:
    """Bounds the rules enforce; scenarios set them."""

    min_price: float = 0.01
    max_price: float = 1_000.0
    max_capacity: int = 100
    max_message_chars: int = 1_000
    deadlines: Deadlines = field(default_factory=Deadlines)


Check = Callable[[ActionBase, MechanismView, str, ProtocolConfig], Verdict | None]


def check_identity(action: ActionBase, view: MarketView, who: str, cfg: ProtocolConfig) -> Verdict | None:
    """The submitter must be an agent, and may act only as itself."""
    if not view.is_agent(who):
        return Verdict.reject(Rule.UNKNOWN_AGENT, f"'{who}' is not an agent of this market")
    if action.sender is not None and action.sender != who:
        return Verdict.reject(
            Rule.IMPERSONATION,
            f"you are {who} and may act only as yourself; leave 'sender' out or set it to '{who}'",
        )
    return None


def check_suspended(action: ActionBase, view: MarketView, who: str, cfg: ProtocolConfig) -> Verdict | None:
    """An agent whose breaker is open (or who is suspended or banned) may not act."""
    if view.is_suspended(who):
        return Verdict.reject(Rule.SUSPENDED, "you are suspended and may not act this round")
    return None


def _thread_of(action: ActionBase) -> str | None:
    return field_or_none(action, "thread_id")


def check_dialogue(action: ActionBase, view: MarketView, who: str, cfg: ProtocolConfig) -> Verdict | None:
    """References must exist and the move must be legal in the thread's state."""
    kind = action.type
    if kind not in THREAD_ACTIONS:
        return None
    thread: Thread | None = None
    if isinstance(action, MakeOffer) and (action.listing_id is None) == (action.thread_id is None):
        return Verdict.reject(
            Rule.DIALOGUE,
            "make_offer needs exactly one of listing_id (to open a thread) or thread_id (to answer a quote request)",
        )
    if isinstance(action, Message):
        if action.thread_id is None:
            if action.to is None:
                return Verdict.reject(Rule.MESSAGE, "a message needs a recipient ('to') or a thread_id")
            if not view.is_agent(action.to):
                return Verdict.reject(Rule.UNKNOWN_AGENT, f"no agent '{action.to}' to message")
            return None
    listing_id = field_or_none(action, "listing_id")
    thread_id = _thread_of(action)
    if thread_id is not None:
        thread = view.thread(thread_id)
        if thread is None:
            return Verdict.reject(
                Rule.UNKNOWN_THREAD, f"no thread '{thread_id}'; use a thread id from your observation"
            )
    elif listing_id is not None and view.listing(listing_id) is None:
        return Verdict.reject(Rule.UNKNOWN_LISTING, f"no listing '{listing_id}'; use a listing id from the market view")
    verdict, _ = move(thread, kind, who)
    return None if verdict.accepted else verdict


def check_communication(action: ActionBase, view: MarketView, who: str, cfg: ProtocolConfig) -> Verdict | None:
    """Messages must be non-empty and within the length limit."""
    if isinstance(action, Message):
        text = action.text.strip()
        if not text:
            return Verdict.reject(Rule.MESSAGE, "the message is empty")
        if len(action.text) > cfg.max_message_chars:
            return Verdict.reject(
                Rule.MESSAGE, f"the message has {len(action.text)} characters; the limit is {cfg.max_message_chars}"
            )
    return None


def _price_of(action: ActionBase) -> float | None:
    if isinstance(action, PostService):
        return action.ask_price
    if isinstance(action, (MakeOffer, Counter)):
        return action.price
    return None


def check_prices(action: ActionBase, view: MarketView, who: str, cfg: ProtocolConfig) -> Verdict | None:
    """Prices are finite and inside the configured band; qualities and scores inside [0, 1]."""
    price = _price_of(action)
    if price is not None:
        if not math.isfinite(price):
            return Verdict.reject(Rule.PRICE_BOUNDS, f"price must be a finite number, got {price}")
        if not cfg.min_price <= price <= cfg.max_price:
            return Verdict.reject(
                Rule.PRICE_BOUNDS, f"price {price:g} is outside the allowed band [{cfg.min_price:g}, {cfg.max_price:g}]"
            )
    value = (
        action.quality if isinstance(action, Deliver) else (action.score if isinstance(action, ReportOutcome) else None)
    )
    if value is not None and not (math.isfinite(value) and 0.0 <= value <= 1.0):
        return Verdict.reject(Rule.QUALITY_BOUNDS, f"quality and score must be between 0 and 1, got {value}")
    return None


def _listing_for(action: ActionBase, view: MarketView) -> tuple[Listing | None, Thread | None]:
    thread_id = _thread_of(action)
    thread = view.thread(thread_id) if thread_id else None
    listing_id = thread.listing_id if thread else field_or_none(action, "listing_id")
    return (view.listing(listing_id) if listing_id else None), thread


def check_capacity_and_parties(action: ActionBase, view: MarketView, who: str, cfg: ProtocolConfig) -> Verdict | None:
    """Listings have sane capacity, nobody trades with itself, no deal beyond capacity."""
    if isinstance(action, PostService):
        if not 1 <= action.capacity <= cfg.max_capacity:
            return Verdict.reject(
                Rule.CAPACITY, f"capacity must be between 1 and {cfg.max_capacity}, got {action.capacity}"
            )
        left = view.unlisted_capacity(who)
        if action.capacity > left:
            return Verdict.reject(Rule.CAPACITY, f"you can list at most {left} more units, not {action.capacity}")
        return None
    if not isinstance(action, (RequestQuote, MakeOffer, Accept)):
        return None
    listing, thread = _listing_for(action, view)
    if listing is None:
        return None
    if thread is None and listing.seller == who:
        return Verdict.reject(Rule.SELF_TRADE, f"listing {listing.id} is your own; you cannot trade with yourself")
    if listing.remaining <= 0:
        return Verdict.reject(Rule.CAPACITY, f"listing {listing.id} has no units left")
    return None


def check_funds(action: ActionBase, view: MarketView, who: str, cfg: ProtocolConfig) -> Verdict | None:
    """The buyer must be able to pay the price now (escrowed money is already spoken for)."""
    if isinstance(action, (MakeOffer, Counter)):
        listing, thread = _listing_for(action, view)
        buyer = thread.buyer if thread is not None else who
        if buyer != who:
            return None  # a seller's price; the buyer's funds are checked when it is accepted
        need = to_micros(action.price)
    elif isinstance(action, Accept):
        thread = view.thread(action.thread_id)
        if thread is None or thread.price_micros is None:
            return None
        buyer, need = thread.buyer, thread.price_micros
    else:
        return None
    have = view.available_micros(buyer)
    if have < need:
        whose = "you have" if buyer == who else f"the buyer {buyer} has"
        return Verdict.reject(Rule.FUNDS, f"the price is {need / 1e6:.2f} but {whose} only {have / 1e6:.2f} available")
    return None


DEFAULT_CHECKS: tuple[Check, ...] = (
    check_identity,
    check_suspended,
    check_mechanism,
    check_mechanism_rules,
    check_dialogue,
    check_communication,
    check_prices,
    check_capacity_and_parties,
    check_funds,
)
