"""``Protocol``: the authoritative check of one action against the market as it is now."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from protocols.actions import (
    Accept,
    ActionBase,
    ActionParseError,
    BuyNow,
    Counter,
    Deliver,
    Inspect,
    MakeOffer,
    Message,
    PlaceOrder,
    PostService,
    ReportOutcome,
    RequestMatch,
    RequestQuote,
    SealedBid,
    SetPrice,
    parse_action,
)
from protocols.communication import TEXT_FIELDS, check_text_fields
from protocols.constraints import (
    DEFAULT_CHECKS,
    Check,
    ProtocolConfig,
    check_capacity_and_parties,
    check_communication,
    check_dialogue,
    check_funds,
    check_prices,
)
from protocols.dialogue import THREAD_ACTIONS
from protocols.limits import (
    INERT_WHEN,
    NOT_TRADING,
    check_halt,
    check_halt_trading,
    check_positions,
    check_self_dealing,
    check_spend_cap,
)
from protocols.market_rules import MechanismView, check_order, check_posted
from protocols.mechanism_table import GENERATION, check_mechanism, check_mechanism_rules, rules_of
from protocols.trusted import field_or_none
from protocols.verdict import ACCEPTED, Rule, Verdict

Applies = Callable[[type, object], bool]
"""Whether a check can answer anything but None for actions of this class and ``type`` value."""


def _only(*classes: type) -> Applies:
    return lambda cls, kind: issubclass(cls, classes)


APPLIES: dict[Callable[..., object], Applies] = {
    # read off each check's code: for an action outside these, the check returns None whatever the
    # market, the submitter or the settings (tests/test_protocol_dispatch.py compares both ways)
    check_order: _only(PlaceOrder),
    check_posted: _only(SetPrice, RequestMatch, BuyNow, SealedBid, Inspect),
    check_dialogue: lambda cls, kind: kind in THREAD_ACTIONS,
    check_communication: _only(Message),
    check_text_fields: _only(*TEXT_FIELDS),  # the classes with free text
    check_prices: _only(PostService, MakeOffer, Counter, Deliver, ReportOutcome),
    check_capacity_and_parties: _only(PostService, RequestQuote, MakeOffer, Accept),
    check_funds: _only(MakeOffer, Counter, Accept),
    check_halt: lambda cls, kind: not issubclass(cls, NOT_TRADING),
    check_self_dealing: _only(RequestQuote, MakeOffer, Counter, Accept),
    check_positions: _only(RequestQuote, MakeOffer, PostService),
    check_spend_cap: _only(Accept),
}
"""Checks that cannot touch every action; a check not named here runs for every action."""

Step = tuple[Callable[..., "Verdict | None"], Any]
"""One step of a fused plan: a check function and the settings it is called with."""


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
        self._plans: dict[tuple[type, object], tuple[Check, ...]] = {}
        self._planned_for: tuple[Check, ...] = self.checks
        self._fused: dict[tuple[type, str, str], tuple[Step, ...]] = {}
        self._fused_for: tuple[tuple[Check, ...], ProtocolConfig, int] = (self.checks, self.config, GENERATION[0])

    def plan(self, action: ActionBase) -> tuple[Check, ...]:
        """The checks that can answer for this action's class and type, in ``checks`` order."""
        if self._planned_for is not self.checks:  # the checks were replaced (the safety layer adds its own)
            self._plans, self._planned_for = {}, self.checks
        cls, kind = type(action), field_or_none(action, "type")
        if type(kind) is not str or action.__class__ is not cls:  # odd: run everything, as before
            return self.checks
        key = (cls, kind)
        found = self._plans.get(key)
        if found is None:
            found = self._plans[key] = tuple(
                c for c in self.checks if (a := APPLIES.get(getattr(c, "__wrapped__", c))) is None or a(*key)
            )
        return found

    def fused(self, action: ActionBase, mechanism: str) -> tuple[Step, ...]:
        """``plan(action)`` composed for a market of ``mechanism``: the steps ``submit`` runs, in order.

        Made once per (action class, type, mechanism) and kept until the checks, the settings or
        the mechanism table change. Against ``plan``: ``check_mechanism`` is left out where the
        mechanism accepts the type (it would pass) and kept where it does not (it rejects);
        ``check_mechanism_rules`` is replaced by the mechanism's own checks that can apply to the
        action (flattening keeps its verdicts: the first rejection decides, the first accepting
        verdict with notes stands); a safety check is called with its settings directly, one whose
        settings turn it off (``protocols.limits.INERT_WHEN``) is left out, and ``check_halt``
        of a trading action is ``check_halt_trading`` (its ``NOT_TRADING`` test answered).
        """
        key = (type(action), action.type, mechanism)
        found = self._fused.get(key)
        if found is not None:
            return found
        cfg = self.config
        steps: list[Step] = []
        rules = rules_of(mechanism)
        for c in self.plan(action):
            if c is check_mechanism:
                if rules is not None and key[1] not in rules.accepted:
                    steps.append((c, cfg))
            elif c is check_mechanism_rules:
                for m in rules.checks if rules is not None else ():
                    a = APPLIES.get(m)
                    if a is None or a(key[0], key[1]):
                        steps.append((m, cfg))
            elif (fn := getattr(c, "__wrapped__", None)) is not None and hasattr(c, "bound_config"):
                bound = c.bound_config
                inert = INERT_WHEN.get(fn)
                if fn is check_halt and not issubclass(key[0], NOT_TRADING):
                    fn = check_halt_trading  # its class test answered here
                if inert is None or not inert(bound):
                    steps.append((fn, bound))
            else:
                steps.append((c, cfg))
        found = self._fused[key] = tuple(steps)
        return found

    def steps(self, action: ActionBase, mechanism: str) -> tuple[Step, ...]:
        """What ``submit`` runs now for ``action`` in a market of ``mechanism``: its ``fused`` plan, after
        dropping the plans made for checks, settings or a mechanism table that have since changed."""
        made = self._fused_for
        if made[0] is not self.checks or made[1] is not self.config or made[2] != GENERATION[0]:
            self._fused, self._fused_for = {}, (self.checks, self.config, GENERATION[0])
        return self.fused(action, mechanism)

    def submit(self, action: ActionBase, view: MechanismView, submitter: str) -> Verdict:
        """Check ``action`` sent by ``submitter`` against ``view``.

        Only the checks that can apply to the action's kind run (``APPLIES``), composed once per
        action kind and mechanism (``fused``); the others would return None, so the verdict and
        its rule are the ones running all of them gives.
        """
        mechanism = getattr(view, "mechanism", "bilateral")
        if (
            type(mechanism) is not str
            or type(getattr(action, "type", None)) is not str
            or action.__class__ is not type(action)
        ):  # odd: the plain plan, each check reading the view itself
            return self._run(self.plan(action), action, view, submitter)
        noted: Verdict | None = None
        for fn, settings in self.steps(action, mechanism):
            verdict = fn(action, view, submitter, settings)
            if verdict is not None:
                if not verdict.accepted:
                    return verdict
                noted = noted or verdict
        return noted or ACCEPTED

    def submit_all(self, action: ActionBase, view: MechanismView, submitter: str) -> Verdict:
        """``submit`` running every check (the reference ``submit`` is compared with in tests)."""
        return self._run(self.checks, action, view, submitter)

    def _run(self, checks: tuple[Check, ...], action: ActionBase, view: MechanismView, submitter: str) -> Verdict:
        cfg = self.config
        noted: Verdict | None = None  # an accepting verdict with redactions or flags
        for check in checks:
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
