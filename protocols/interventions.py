"""Graduated interventions: warn, fine, throttle, suspend, ban.

For each alert the policy says whether it is handled automatically (its severity reaches
the kind's ``auto`` level) or queued for a person to review. Either way the step is
graduated: an agent's first offence of a kind gets the kind's starting step, each further
confirmed offence the next step up the ladder. Pure: the sandbox applies the result.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from protocols.detectors.facts import Alert, Severity

SEVERITY_ORDER = (Severity.LOW, Severity.MEDIUM, Severity.HIGH)


class Step(StrEnum):
    """An intervention, mildest first."""

    WARN = "warn"
    FINE = "fine"
    THROTTLE = "throttle"
    SUSPEND = "suspend"
    BAN = "ban"


LADDER = (Step.WARN, Step.FINE, Step.THROTTLE, Step.SUSPEND, Step.BAN)


class Decision(StrEnum):
    """What a reviewer may decide about an alert."""

    CONFIRM = "confirm"  # apply the graduated step the policy plans
    DISMISS = "dismiss"
    WARN = "warn"
    FINE = "fine"
    THROTTLE = "throttle"
    SUSPEND = "suspend"
    BAN = "ban"


class InterventionsConfig(BaseModel):
    """Which alerts are acted on automatically, where each kind starts on the ladder, and the step sizes."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    auto: dict[str, Severity] = Field(
        default_factory=lambda: {
            "wash_trading": Severity.MEDIUM,
            "message_storm": Severity.MEDIUM,
            "reputation_ring": Severity.HIGH,
        },
        description="Alert kind -> least severity handled without review; kinds not named always go to review.",
    )
    start: dict[str, Step] = Field(
        default_factory=lambda: {"wash_trading": Step.FINE, "reputation_ring": Step.FINE, "collusion": Step.WARN},
        description="Alert kind -> first step for a first offence (default warn).",
    )
    fine: float = Field(5.0, ge=0, description="Fine in currency units, per agent.")
    throttle_actions: int = Field(2, ge=0, description="Actions per round a throttled agent keeps.")
    throttle_rounds: int = Field(5, ge=1, description="Rounds a throttle lasts.")
    suspend_rounds: int = Field(5, ge=1, description="Rounds a suspension lasts.")


@dataclass(frozen=True, slots=True)
class Intervention:
    """One step against one agent, and why."""

    agent: str
    step: Step
    reason: str
    amount: float = 0.0  # fines, in currency units
    rounds: int | None = None  # throttles and suspensions; None for bans (permanent)
    actions: int | None = None  # throttles: actions per round kept


def is_auto(alert: Alert, cfg: InterventionsConfig) -> bool:
    """Whether the policy handles this alert without human review."""
    least = cfg.auto.get(alert.kind)
    if least is None or not alert.agents:
        return False
    return SEVERITY_ORDER.index(alert.severity) >= SEVERITY_ORDER.index(least)


def graduated_step(kind: str, offences: int, cfg: InterventionsConfig) -> Step:
    """The step for an agent's offence number ``offences`` (0 for a first one) of this kind."""
    first = LADDER.index(cfg.start.get(kind, Step.WARN))
    return LADDER[min(first + offences, len(LADDER) - 1)]


def make(agent: str, step: Step, reason: str, cfg: InterventionsConfig, amount: float | None = None) -> Intervention:
    """An intervention with the policy's sizes filled in."""
    if step is Step.FINE:
        return Intervention(agent, step, reason, amount=cfg.fine if amount is None else amount)
    if step is Step.THROTTLE:
        return Intervention(agent, step, reason, rounds=cfg.throttle_rounds, actions=cfg.throttle_actions)
    if step is Step.SUSPEND:
        return Intervention(agent, step, reason, rounds=cfg.suspend_rounds)
    return Intervention(agent, step, reason)


def plan(alert: Alert, offences: Mapping[tuple[str, str], int], cfg: InterventionsConfig) -> list[Intervention]:
    """Graduated interventions for every agent of an alert, given past offences by (agent, kind)."""
    return [
        make(
            a, graduated_step(alert.kind, offences.get((a, alert.kind), 0), cfg), f"{alert.kind}: {alert.summary}", cfg
        )
        for a in alert.agents
    ]


def decide(
    decision: Decision,
    alert: Alert,
    offences: Mapping[tuple[str, str], int],
    cfg: InterventionsConfig,
    amount: float | None = None,
) -> list[Intervention]:
    """The interventions a reviewer's decision on an alert leads to."""
    if decision is Decision.DISMISS:
        return []
    if decision is Decision.CONFIRM:
        return plan(alert, offences, cfg)
    step = Step(decision.value)
    return [make(a, step, f"{alert.kind} (reviewed): {alert.summary}", cfg, amount) for a in alert.agents]
