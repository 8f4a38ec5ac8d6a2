"""Emergence detectors: pure functions over a sliding window of round facts that raise alerts.

``run_detectors`` runs every detector that ``DetectorsConfig`` switches on.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict, Field

from protocols.detectors.bubbles import BubbleConfig, detect_bubbles
from protocols.detectors.collusion import CollusionConfig, collusion_index, detect_collusion, detect_reported_collusion
from protocols.detectors.concentration import ConcentrationConfig, detect_concentration, hhi
from protocols.detectors.facts import (
    ActFact,
    Alert,
    Benchmark,
    FirmFact,
    MarketFacts,
    RoundFacts,
    Severity,
    TradeFact,
)
from protocols.detectors.rings import RingConfig, detect_rings
from protocols.detectors.storms import StormConfig, detect_storms
from protocols.detectors.wash import WashConfig, detect_wash


class DetectorsConfig(BaseModel):
    """Which detectors run, with their settings; ``None`` switches one off."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    collusion: CollusionConfig | None = Field(default_factory=CollusionConfig)
    wash: WashConfig | None = Field(default_factory=WashConfig)
    concentration: ConcentrationConfig | None = Field(default_factory=ConcentrationConfig)
    storms: StormConfig | None = Field(default_factory=StormConfig)
    bubbles: BubbleConfig | None = Field(default_factory=BubbleConfig)
    rings: RingConfig | None = Field(default_factory=RingConfig)
    repeat_after: int = Field(10, ge=1, description="Rounds before the same finding counts again in its case.")
    reopen_margin: float = Field(
        0.5,
        ge=0,
        description="A dismissed case reopens only when a finding's strength exceeds the strength at "
        "dismissal by this share (0.5: 50% more), or its severity is higher.",
    )

    @property
    def lookback(self) -> int:
        """Rounds of facts the detectors need kept."""
        wins = [c.window for c in (self.collusion, self.wash, self.storms, self.bubbles, self.rings) if c]
        if self.concentration:
            wins.append(2 * self.concentration.window)
        return max(wins, default=1)


def run_detectors(window: Sequence[RoundFacts], market: MarketFacts, cfg: DetectorsConfig) -> list[Alert]:
    """Every enabled detector's alerts for the window (oldest round first)."""
    if not window:
        return []
    out: list[Alert] = []
    if cfg.collusion:
        out += detect_collusion(window, market, cfg.collusion)
        out += detect_reported_collusion(window, market, cfg.collusion)
    if cfg.wash:
        out += detect_wash(window, market, cfg.wash)
    if cfg.concentration:
        out += detect_concentration(window, market, cfg.concentration)
    if cfg.storms:
        out += detect_storms(window, market, cfg.storms)
    if cfg.bubbles:
        out += detect_bubbles(window, market, cfg.bubbles)
    if cfg.rings:
        out += detect_rings(window, market, cfg.rings)
    return out


__all__ = [
    "ActFact",
    "Alert",
    "Benchmark",
    "BubbleConfig",
    "CollusionConfig",
    "ConcentrationConfig",
    "DetectorsConfig",
    "FirmFact",
    "MarketFacts",
    "RingConfig",
    "RoundFacts",
    "Severity",
    "StormConfig",
    "TradeFact",
    "WashConfig",
    "collusion_index",
    "detect_bubbles",
    "detect_collusion",
    "detect_concentration",
    "detect_rings",
    "detect_reported_collusion",
    "detect_storms",
    "detect_wash",
    "hhi",
    "run_detectors",
]
