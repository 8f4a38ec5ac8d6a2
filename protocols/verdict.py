"""The protocol's answer to one action: accepted, or rejected by a named rule with a reason."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from protocols.quick_init import quick_init


class Rule(StrEnum):
    """Every rule that can decide a verdict. Fines are keyed by these names."""

    OK = "ok"
    SCHEMA = "schema"
    IMPERSONATION = "impersonation"
    UNKNOWN_AGENT = "unknown_agent"
    SUSPENDED = "suspended"
    UNKNOWN_LISTING = "unknown_listing"
    UNKNOWN_THREAD = "unknown_thread"
    NOT_PARTICIPANT = "not_participant"
    DIALOGUE = "dialogue"
    MESSAGE = "message"
    PRICE_BOUNDS = "price_bounds"
    QUALITY_BOUNDS = "quality_bounds"
    CAPACITY = "capacity"
    OWN_LISTING = "own_listing"
    SELF_TRADE = "self_trade"
    FUNDS = "funds"
    RATE_LIMIT = "rate_limit"
    AGENT_ERROR = "agent_error"
    # the safety layer (protocols/communication.py, protocols/limits.py)
    CONTENT = "content"
    PRIVATE_LEAK = "private_leak"
    INJECTION = "injection"
    COORDINATION = "coordination"
    SPEND_CAP = "spend_cap"
    POSITION_LIMIT = "position_limit"
    PRICE_BAND = "price_band"
    HALTED = "halted"
    THROTTLED = "throttled"
    SELF_DEALING = "self_dealing"
    # market mechanisms (protocols/market_rules.py)
    MECHANISM = "mechanism"
    IMPROVEMENT = "improvement"
    STALE_ORDER = "stale_order"
    AUCTION = "auction"


@quick_init
@dataclass(frozen=True, slots=True)
class Verdict:
    """Accept or reject, the rule that decided and a reason an LLM could act on.

    An accepted verdict may still carry ``redactions`` (field name, text the recipients get
    instead) and ``flags`` (rules that noted something for the detectors and reviewers).
    """

    accepted: bool
    rule: str
    reason: str
    redactions: tuple[tuple[str, str], ...] = ()
    flags: tuple[str, ...] = ()

    @classmethod
    def accept(cls) -> Verdict:
        """The verdict for an action that passed every check."""
        return ACCEPTED

    @classmethod
    def reject(cls, rule: str, reason: str) -> Verdict:
        """A rejection by ``rule`` with a reason that says what to change."""
        return cls(False, str(rule), reason)


ACCEPTED = Verdict(True, Rule.OK.value, "accepted")
