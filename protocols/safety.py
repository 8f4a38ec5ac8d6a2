"""The safety layer's settings in one model, and the protocol checks they imply.

A scenario's ``safety`` section is a ``SafetyConfig``. ``safety_checks`` turns it into
checks with the ``Protocol.checks`` signature: the action constraints of
``protocols.limits`` and the communication rules of ``protocols.communication``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from pydantic import BaseModel, ConfigDict, Field

from protocols.actions import ActionBase
from protocols.breakers import BreakersConfig
from protocols.communication import CommsConfig, check_text_fields
from protocols.constraints import Check, ProtocolConfig
from protocols.detectors import Benchmark, DetectorsConfig
from protocols.interventions import InterventionsConfig
from protocols.limits import LIMIT_CHECKS, LimitsConfig
from protocols.state import MarketView
from protocols.verdict import Verdict

C = TypeVar("C")
"""The configuration a bound check reads."""


class BenchmarkSpec(BaseModel):
    """A service's reference prices as the scenario states them."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    competitive: float = Field(gt=0, description="Competitive (equilibrium) price.")
    monopoly: float | None = Field(None, gt=0, description="Monopoly price, when known.")

    def benchmark(self) -> Benchmark:
        """As the detectors take it."""
        return Benchmark(self.competitive, self.monopoly)


class SafetyConfig(BaseModel):
    """Everything the safety layer does in a run, tuned from the scenario."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = Field(True, description="Switch the whole safety layer off (the skeleton's checks remain).")
    comms: CommsConfig = Field(default_factory=CommsConfig)
    limits: LimitsConfig = Field(default_factory=LimitsConfig)
    breakers: BreakersConfig = Field(default_factory=BreakersConfig)
    detectors: DetectorsConfig = Field(default_factory=DetectorsConfig)
    interventions: InterventionsConfig = Field(default_factory=InterventionsConfig)
    benchmarks: dict[str, BenchmarkSpec] = Field(
        default_factory=dict,
        description="Service -> prices; services not named get the competitive price computed from values and costs.",
    )
    fundamentals: dict[str, float] = Field(
        default_factory=dict, description="Service -> fundamental value, for bubble detection."
    )
    conduct_rules: tuple[str, ...] = Field(
        (
            "impersonation",
            "unknown_agent",
            "funds",
            "self_trade",
            "self_dealing",
            "rate_limit",
            "throttled",
            "injection",
            "coordination",
            "content",
            "schema",
            "price_bounds",
        ),
        description="Rejections by these rules count toward an agent's violations breaker.",
    )


def _bind(fn: Callable[[ActionBase, MarketView, str, C], Verdict | None], cfg: C, name: str) -> Check:
    def check(action: ActionBase, view: MarketView, who: str, _: ProtocolConfig) -> Verdict | None:
        return fn(action, view, who, cfg)

    check.__name__ = check.__qualname__ = name
    check.__wrapped__ = fn  # type: ignore[attr-defined]  # Protocol.plan reads which actions it can touch
    check.bound_config = cfg  # type: ignore[attr-defined]  # Protocol's fused plans call fn with it directly
    return check


def safety_checks(cfg: SafetyConfig) -> tuple[Check, ...]:
    """Checks for ``Protocol.checks``: action constraints first, then the communication rules."""
    if not cfg.enabled:
        return ()
    limits = tuple(_bind(fn, cfg.limits, fn.__name__) for fn in LIMIT_CHECKS)
    return (*limits, _bind(check_text_fields, cfg.comms, "check_text_fields"))
