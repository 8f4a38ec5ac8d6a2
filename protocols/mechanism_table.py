"""The pure half of the mechanism registry: per mechanism, its actions per role, its checks, its LLM text.

This table is the single source of what a mechanism offers and refuses. ``check_mechanism``
refuses an action of a type no role of the view's mechanism has; ``check_mechanism_rules``
runs the mechanism's own checks (``MechanismRules.checks``); LLM agents are offered exactly
the tools of their role (``llm_tools``), with the mechanism's ``instructions`` in their
system prompt. The other half of an entry (the scenario's spec model and the live market
class) lives in ``sandbox.mechanisms.registry``, joined to this one by name:
``sandbox.mechanisms.registry.register_mechanism`` registers both halves in one call.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import cached_property
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from protocols.actions import ACTION_TYPES, ActionBase, tool_schemas
from protocols.market_rules import check_order, check_posted
from protocols.verdict import Rule, Verdict

if TYPE_CHECKING:
    from protocols.constraints import ProtocolConfig

MechanismCheck = Callable[[ActionBase, Any, str, "ProtocolConfig"], "Verdict | None"]
"""A mechanism's own check: ``(action, view, submitter, config) -> Verdict | None`` (None passes)."""

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
    checks: tuple[MechanismCheck, ...] = ()
    """The mechanism's own checks, run (in order) after ``check_mechanism`` and before the dialogue checks."""

    @cached_property
    def accepted(self) -> frozenset[str]:
        """Every action type the mechanism accepts, whatever the role (computed once: the protocol reads it per action)."""
        return frozenset().union(*self.actions.values())

    def actions_for(self, role: str) -> frozenset[str]:
        """The action types of ``role`` (every accepted type for a role the record does not name)."""
        return self.actions.get(role, self.accepted)


def mechanism_rules(
    name: str,
    title: str,
    buyer: set[str],
    seller: set[str],
    instructions: str,
    *,
    checks: tuple[MechanismCheck, ...] = (),
    texts_every_turn: bool = False,
) -> MechanismRules:
    """A record: the action types of each role, the instructions (whitespace folded) and the checks."""
    actions = MappingProxyType({"buyer": frozenset(buyer), "seller": frozenset(seller)})
    return MechanismRules(name, title, actions, " ".join(instructions.split()), texts_every_turn, tuple(checks))


_rules = mechanism_rules


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
        checks=(check_posted,),
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
        checks=(check_order,),
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
        checks=(check_posted,),
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
        checks=(check_posted,),
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
        checks=(check_posted,),
        texts_every_turn=True,
    ),
)

_REGISTRY: dict[str, MechanismRules] = {m.name: m for m in _TABLE}
GENERATION = [0]
"""Bumped whenever a record is registered or removed: plans made from the table (``Protocol``) are remade."""
MECHANISMS: Mapping[str, MechanismRules] = MappingProxyType(_REGISTRY)
"""Every mechanism by name (a live view: a registered mechanism appears here)."""

_TOOLS: dict[tuple[str, str], list[dict[str, Any]]] = {}
_KNOWN_TYPES = frozenset(t.model_fields["type"].default for t in ACTION_TYPES)


def register_rules(rules: MechanismRules) -> MechanismRules:
    """Add (or replace) a mechanism's record; every action type it names must be a known action type."""
    unknown = sorted(rules.accepted - _KNOWN_TYPES)
    if unknown:
        raise ValueError(f"mechanism '{rules.name}' names unknown action types: {', '.join(unknown)}")
    _REGISTRY[rules.name] = rules
    GENERATION[0] += 1
    for key in [k for k in _TOOLS if k[0] == rules.name]:
        del _TOOLS[key]
    return rules


def unregister_rules(name: str) -> None:
    """Remove a mechanism's record (tests that register a mechanism clean up with this)."""
    _REGISTRY.pop(name, None)
    GENERATION[0] += 1
    for key in [k for k in _TOOLS if k[0] == name]:
        del _TOOLS[key]


class _AcceptedByMechanism(Mapping[str, frozenset[str]]):
    """Which action types each registered mechanism accepts from any role (derived, always current)."""

    def __getitem__(self, name: str) -> frozenset[str]:
        return _REGISTRY[name].accepted

    def __iter__(self) -> Iterator[str]:
        return iter(_REGISTRY)

    def __len__(self) -> int:
        return len(_REGISTRY)


MECHANISM_ACTIONS: Mapping[str, frozenset[str]] = _AcceptedByMechanism()
"""Which action types each mechanism accepts, from any role (derived from the records)."""


def _all_accepted() -> frozenset[str]:
    return frozenset().union(*(m.accepted for m in _REGISTRY.values()))


def _mechanism(view: object) -> str:
    return str(getattr(view, "mechanism", "bilateral"))


def check_mechanism(action: ActionBase, view: object, who: str, cfg: ProtocolConfig) -> Verdict | None:
    """The action must be one this market's mechanism offers."""
    mech = _mechanism(view)
    rules = _REGISTRY.get(mech)
    if rules is not None and action.type not in rules.accepted:
        return Verdict.reject(
            Rule.MECHANISM,
            f"this market is a {mech.replace('_', ' ')} market; allowed actions: {', '.join(sorted(rules.accepted))}",
        )
    return None


def check_mechanism_rules(action: ActionBase, view: object, who: str, cfg: ProtocolConfig) -> Verdict | None:
    """The checks of the view's mechanism (its record's ``checks``), with ``Protocol.submit``'s semantics.

    The first rejection decides; an accepting verdict with notes stands if no later check rejects.
    """
    rules = _REGISTRY.get(_mechanism(view))
    if rules is None:
        return None
    noted: Verdict | None = None
    for check in rules.checks:
        verdict = check(action, view, who, cfg)
        if verdict is not None:
            if not verdict.accepted:
                return verdict
            noted = noted or verdict
    return noted


def rules_of(mechanism: str) -> MechanismRules | None:
    """The record of a mechanism, or None for a name the table does not know."""
    return _REGISTRY.get(mechanism)


def actions_for(mechanism: str, role: str) -> frozenset[str]:
    """The action types an agent of ``role`` may send in ``mechanism`` (every known type for an unknown one)."""
    rules = _REGISTRY.get(mechanism)
    return rules.actions_for(role) if rules is not None else _all_accepted()


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
    rules = _REGISTRY.get(mechanism)
    if rules is None:
        return f"This market's mechanism is '{mechanism}'; use the tools offered and read the board."
    return rules.instructions


def tools_for(mechanism: str, role: str | None = None) -> list[dict[str, Any]]:
    """The LLM tool definitions of the actions a mechanism accepts (from ``role``, or from any role)."""
    if role is not None:
        return llm_tools(mechanism, role)
    rules = _REGISTRY.get(mechanism)
    types = tuple(t for t in ACTION_TYPES if rules is None or t.model_fields["type"].default in rules.accepted)
    return tool_schemas(types)
