"""``Protocol``: the authoritative check of one action against the market as it is now."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from protocols.actions import ActionBase, ActionParseError, parse_action
from protocols.constraints import DEFAULT_CHECKS, Check, ProtocolConfig
from protocols.market_rules import MechanismView
from protocols.verdict import ACCEPTED, Rule, Verdict


class Protocol:
    """Runs the checks in a fixed order; the first that rejects decides the verdict.

    A check may also accept with redactions or flags; the remaining checks still run, and
    that verdict stands if none of them rejects.

    Pure: the same action on the same view always gets the same verdict, so agents use it
    as a dry run on the round-start view and the session uses it authoritatively.
    """

    def __init__(self, config: ProtocolConfig | None = None, checks: Sequence[Check] = DEFAULT_CHECKS) -> None:
        self.config = config or ProtocolConfig()
        self.checks: tuple[Check, ...] = tuple(checks)

    def submit(self, action: ActionBase, view: MechanismView, submitter: str) -> Verdict:
        """Check ``action`` sent by ``submitter`` against ``view``."""
        cfg = self.config
        noted: Verdict | None = None  # an accepting verdict with redactions or flags
        for check in self.checks:
            verdict = check(action, view, submitter, cfg)
            if verdict is not None:
                if not verdict.accepted:
                    return verdict
                noted = noted or verdict
        return noted or ACCEPTED

    def submit_raw(
        self, data: str | bytes | dict[str, Any], view: MechanismView, submitter: str
    ) -> tuple[ActionBase | None, Verdict]:
        """Parse untrusted input, then check it; a parse failure is a ``schema`` rejection."""
        try:
            action = parse_action(data)
        except ActionParseError as err:
            return None, Verdict.reject(Rule.SCHEMA, str(err))
        return action, self.submit(action, view, submitter)
