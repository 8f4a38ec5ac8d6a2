"""One record per market mechanism: the actions it accepts per role and its instructions for LLM agents.

This table is the single source of what a mechanism offers. ``protocols.market_rules``
derives the ``mechanism`` rule from it (an action of a type no role of the mechanism has
is refused), and LLM agents are offered exactly the tools of their role in it
(``llm_tools``), with the mechanism's ``instructions`` in their system prompt. Each record
is shaped to become part of a mechanism registry entry (name, spec, market class, actions
per role, checks, metrics, LLM instructions) later: add a mechanism by adding a record.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from protocols.actions import ACTION_TYPES, tool_schemas

ROLES = ("buyer", "seller")


@dataclass(frozen=True)
class MechanismRules:
    """What one mechanism accepts from each role, and how it is explained to an LLM agent."""

    name: str
    title: str
    actions: Mapping[str, frozenset[str]]
    """Action types each role may send; ``message`` is listed explicitly where it is allowed."""
    instructions: str
    """What a turn means in this market and which rules reject actions: a short text for the prompt."""
    texts_every_turn: bool = False
    """Listing texts describe the goods themselves: quote them on every turn, not only the first time seen."""

    @property
    def accepted(self) -> frozenset[str]:
        """Every action type the mechanism accepts, whatever the role."""
        return frozenset().union(*self.actions.values())

    def actions_for(self, role: str) -> frozenset[str]:
        """The action types of ``role`` (every accepted type for a role the record does not name)."""
        return self.actions.get(role, self.accepted)


def _rules(
    name: str, title: str, buyer: set[str], seller: set[str], instructions: str, texts_every_turn: bool = False
) -> MechanismRules:
    actions = MappingProxyType({"buyer": frozenset(buyer), "seller": frozenset(seller)})
    return MechanismRules(name, title, actions, " ".join(instructions.split()), texts_every_turn)


_TABLE = (
    _rules(
        "bilateral",
        "bilateral negotiation",
        {"request_quote", "make_offer", "counter", "accept", "reject", "withdraw", "report_outcome", "message"},
        {"post_service", "make_offer", "counter", "accept", "reject", "withdraw", "deliver", "message"},
        """Sellers list services (post_service). Buyers open a thread on a listing (make_offer, or
        request_quote that the seller answers with make_offer). In a thread, whoever's turn it is accepts,
        counters or rejects (its moves are listed); the proposer may withdraw. Acceptance escrows the price;
        the seller delivers claiming a quality; the buyer's report_outcome pays the seller. Silent threads
        expire. Rejected: moves not yours now, unknown ids, self-trade, unaffordable or out-of-band prices.""",
    ),
    _rules(
        "posted_price",
        "posted prices",
        {"buy_now", "message"},
        {"set_price", "message"},
        """Sellers post prices: set_price(service, price) lists your service the first time and reprices it
        after. Buyers buy one unit at once at the posted price with buy_now(listing_id); there is no negotiation.
        When the board shows 'demand', simulated consumers buy from every firm at the end of each round by logit
        demand, and your profit is (price - cost) x quantity. Rejected: set_price for a service you do not sell,
        buying your own or a sold-out listing, buying beyond your balance, a price outside the band.""",
    ),
    _rules(
        "double_auction",
        "continuous double auction",
        {"place_order", "message"},
        {"place_order", "message"},
        """Each place_order is for one unit: side 'buy' is a bid, 'sell' an ask, for your next unit (the board
        shows your_next_unit). Only the best bid and the best ask stand. A bid at or above the standing ask trades
        at the ask's price, an ask at or below the standing bid at the bid's price; then the book is cleared.
        Units refill at the start of each trading period. Rejected (rule): a bid not above the standing bid or an
        ask not below the standing ask (improvement), a unit you no longer have (capacity, stale_order), an order
        against your own standing order (self_trade), a bid you cannot pay (funds), a price outside the band.""",
    ),
    _rules(
        "sealed_bid",
        "sealed-bid auctions",
        {"sealed_bid", "message"},
        {"post_service", "message"},
        """A seller's post_service opens an auction of the listing's units, with the ask as the reserve price.
        Buyers send sealed_bid(listing_id, price) for one unit; a new bid replaces your earlier one; nobody sees
        others' bids. An auction clears after its last_bid_round (on the board): the highest bids win and pay
        the highest losing bid (price_rule 'second') or their own bid ('first'). Rejected: a bid below the
        reserve, on a closed auction, on your own listing, beyond your balance, a price outside the band.""",
    ),
    _rules(
        "intermediary",
        "intermediary",
        {"request_match", "report_outcome", "message"},
        {"post_service", "deliver", "message"},
        """Sellers list services (post_service). A buyer sends request_match(service, max_price): the
        intermediary matches it with the affordable listing of lowest rank price (the ask, raised for low
        reputation) and moves the ask into escrow. The seller then delivers (deliver, claiming a quality). The
        seller is paid by outcome, drawn from its hidden true quality or, when the board's outcome is
        'reported', scored by the buyer with report_outcome; the rest is refunded. Rejected: no listing of that
        service at or below max_price that you can afford, a move on a thread that does not await it, a price
        outside the band.""",
    ),
    _rules(
        "information",
        "information market",
        {"inspect", "buy_now", "message"},
        {"message"},
        """Vendors sell information items at posted prices; you see each item's title and the vendor's claim,
        which may be false. inspect(listing_id) shows you the item's content and its value to you in your next
        turn only; then you forget it unless you buy it. buy_now(listing_id) buys the item at its price.
        Rejected: an unknown item, your own item, buying beyond your balance.""",
        texts_every_turn=True,
    ),
)

MECHANISMS: Mapping[str, MechanismRules] = MappingProxyType({m.name: m for m in _TABLE})
"""Every mechanism by name."""

_ALL = frozenset().union(*(m.accepted for m in _TABLE))
_TOOLS: dict[tuple[str, str], list[dict[str, Any]]] = {}


def rules_of(mechanism: str) -> MechanismRules | None:
    """The record of a mechanism, or None for a name the table does not know."""
    return MECHANISMS.get(mechanism)


def actions_for(mechanism: str, role: str) -> frozenset[str]:
    """The action types an agent of ``role`` may send in ``mechanism`` (every known type for an unknown one)."""
    rules = MECHANISMS.get(mechanism)
    return rules.actions_for(role) if rules is not None else _ALL


def llm_tools(mechanism: str, role: str) -> list[dict[str, Any]]:
    """The tool definitions offered to an LLM agent of ``role`` in ``mechanism``.

    One list object per (mechanism, role), built once: request hashing remembers tool lists by
    identity, and fewer schemas make every request smaller.
    """
    key = (mechanism, role)
    if key not in _TOOLS:
        names = actions_for(mechanism, role)
        tools = tool_schemas(tuple(t for t in ACTION_TYPES if t.model_fields["type"].default in names))
        _TOOLS[key] = [_lean(t) for t in tools]
    return _TOOLS[key]


SELF_EXPLANATORY = frozenset({"thread_id", "listing_id", "price", "service", "reason", "note", "text"})


def _lean(tool: dict[str, Any]) -> dict[str, Any]:
    """A tool definition with fewer tokens: no description of self-explanatory fields, optionals as their type.

    The action's own description stays; the model still gets every field, its type and what is required.
    """
    params = tool["function"]["parameters"]
    params.pop("description", None)  # the same text as the function's description
    for name, prop in params.get("properties", {}).items():
        prop.pop("title", None)
        if name in SELF_EXPLANATORY:
            prop.pop("description", None)
        alternatives = [a for a in prop.get("anyOf", ()) if a.get("type") != "null"]
        if len(alternatives) == 1:
            del prop["anyOf"]
            prop.update(alternatives[0])
            if prop.get("default", 0) is None:
                del prop["default"]
    return tool


def instructions_for(mechanism: str) -> str:
    """The mechanism's instructions for LLM agents (a generic line for an unknown mechanism)."""
    rules = MECHANISMS.get(mechanism)
    if rules is None:
        return f"This market's mechanism is '{mechanism}'; use the tools offered and read the board."
    return rules.instructions
