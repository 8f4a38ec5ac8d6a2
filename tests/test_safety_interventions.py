"""Graduated interventions: automatic or reviewed, and the ladder from warn to ban."""

from __future__ import annotations

from protocols.detectors import Alert, Severity
from protocols.interventions import Decision, InterventionsConfig, Step, decide, graduated_step, is_auto, plan

CFG = InterventionsConfig()


def _alert(
    kind: str = "wash_trading", severity: Severity = Severity.HIGH, agents: tuple[str, ...] = ("a", "b")
) -> Alert:
    return Alert(kind, severity, agents, {}, (1, 5), "test")


def test_auto_depends_on_kind_and_severity() -> None:
    assert is_auto(_alert("wash_trading", Severity.MEDIUM), CFG)
    assert not is_auto(_alert("wash_trading", Severity.LOW), CFG)
    assert not is_auto(_alert("collusion", Severity.HIGH), CFG)  # always reviewed by default
    assert not is_auto(_alert("wash_trading", agents=()), CFG)  # nobody to act on


def test_ladder_climbs_with_offences_and_stops_at_ban() -> None:
    assert [graduated_step("message_storm", n, CFG) for n in range(6)] == [
        Step.WARN,
        Step.FINE,
        Step.THROTTLE,
        Step.SUSPEND,
        Step.BAN,
        Step.BAN,
    ]
    assert graduated_step("wash_trading", 0, CFG) is Step.FINE  # wash starts at a fine


def test_plan_sizes_each_step_from_the_policy() -> None:
    steps = plan(_alert(), {("a", "wash_trading"): 1}, CFG)
    assert [(s.agent, s.step) for s in steps] == [("a", Step.THROTTLE), ("b", Step.FINE)]
    assert steps[0].rounds == CFG.throttle_rounds and steps[0].actions == CFG.throttle_actions
    assert steps[1].amount == CFG.fine


def test_review_decisions() -> None:
    alert = _alert("collusion")
    assert decide(Decision.DISMISS, alert, {}, CFG) == []
    assert [s.step for s in decide(Decision.CONFIRM, alert, {}, CFG)] == [Step.WARN, Step.WARN]
    fined = decide(Decision.FINE, alert, {}, CFG, amount=12.5)
    assert [(s.step, s.amount) for s in fined] == [(Step.FINE, 12.5), (Step.FINE, 12.5)]
    assert all(s.step is Step.BAN and s.rounds is None for s in decide(Decision.BAN, alert, {}, CFG))
