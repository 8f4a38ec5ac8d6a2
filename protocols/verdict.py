"""The protocol's answer to one action: accepted, or rejected by a named rule with a reason."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


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


@dataclass(frozen=True, slots=True)
class Verdict:
    """Accept or reject, the rule that decided and a reason an LLM could act on."""

    accepted: bool
    rule: str
    reason: str

    @classmethod
    def accept(cls) -> Verdict:
        """The verdict for an action that passed every check."""
        return ACCEPTED

    @classmethod
    def reject(cls, rule: str, reason: str) -> Verdict:
        """A rejection by ``rule`` with a reason that says what to change."""
        return cls(False, str(rule), reason)


ACCEPTED = Verdict(True, Rule.OK.value, "accepted")
