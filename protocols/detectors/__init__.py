"""Emergence detectors: pure functions over a sliding window of round facts that raise alerts.

Each detector is registered once (``protocols.detectors.registry``); ``DetectorsConfig`` has a
field per registered detector and ``run_detectors`` runs every one it switches on.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_core import InitErrorDetails
from pydantic_core import ValidationError as CoreValidationError

from protocols.detectors.bubbles import BubbleConfig, detect_bubbles
from protocols.detectors.collusion import (
    CollusionConfig,
    CollusionWindow,
    collusion_index,
    detect_collusion,
    detect_reported_collusion,
)
from protocols.detectors.concentration import (
    ConcentrationConfig,
    ConcentrationWindow,
    detect_concentration,
    hhi,
)
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
from protocols.detectors.registry import DETECTORS, Detector, KeptFn, register_detector, unregister_detector
from protocols.detectors.rings import RingConfig, detect_rings
from protocols.detectors.storms import StormConfig, StormWindow, detect_storms
from protocols.detectors.wash import WashConfig, WashWindow, detect_wash


def _collusion(window: Sequence[RoundFacts], market: MarketFacts, cfg: CollusionConfig) -> list[Alert]:
    return detect_collusion(window, market, cfg) + detect_reported_collusion(window, market, cfg)


def _collusion_kept(cfg: CollusionConfig) -> KeptFn:
    kept = CollusionWindow(cfg)
    return lambda window, market: kept.detect(window, market) + detect_reported_collusion(window, market, cfg)


for _detector in (
    Detector("collusion", CollusionConfig, _collusion, kept=_collusion_kept),
    Detector("wash", WashConfig, detect_wash, kept=lambda c: WashWindow(c).detect),
    Detector(
        "concentration",
        ConcentrationConfig,
        detect_concentration,
        lambda c: 2 * c.window,
        kept=lambda c: ConcentrationWindow(c).detect,
    ),
    Detector("storms", StormConfig, detect_storms, kept=lambda c: StormWindow(c).detect),
    Detector("bubbles", BubbleConfig, detect_bubbles),
    Detector("rings", RingConfig, detect_rings),
):
    register_detector(_detector)


class DetectorsConfig(BaseModel):
    """Which detectors run, with their settings: one field per registered detector; ``None`` switches one off.

    The detector fields are derived from the registry (``protocols.detectors.registry``): a
    detector the scenario leaves out gets its default config (or None when it is off by default).
    """

    model_config = ConfigDict(extra="allow", frozen=True)

    repeat_after: int = Field(10, ge=1, description="Rounds before the same finding counts again in its case.")
    reopen_margin: float = Field(
        0.5,
        ge=0,
        description="A dismissed case reopens only when a finding's strength exceeds the strength at "
        "dismissal by this share (0.5: 50% more), or its severity is higher.",
    )

    @model_validator(mode="before")
    @classmethod
    def _detector_fields(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        out = dict(data)
        errors: list[InitErrorDetails] = []
        for key, value in data.items():
            if key in cls.model_fields:
                continue
            entry = DETECTORS.get(key)
            if entry is None:
                errors.append({"type": "extra_forbidden", "loc": (key,), "input": value})
            elif value is not None and not isinstance(value, entry.config):
                try:
                    out[key] = entry.config.model_validate(value)
                except ValidationError as err:
                    for e in err.errors():
                        detail: InitErrorDetails = {"type": e["type"], "loc": (key, *e["loc"]), "input": e["input"]}
                        if "ctx" in e:
                            detail["ctx"] = e["ctx"]
                        errors.append(detail)
        if errors:
            raise CoreValidationError.from_exception_data(cls.__name__, errors)
        for name, entry in DETECTORS.items():
            if name not in out:
                out[name] = entry.config() if entry.on_by_default else None
        return out

    def config_of(self, name: str) -> Any:
        """The config of detector ``name`` (None when it is off or not registered)."""
        return (self.__pydantic_extra__ or {}).get(name)

    @property
    def lookback(self) -> int:
        """Rounds of facts the detectors need kept."""
        wins = [d.lookback(c) for d in DETECTORS.values() if (c := self.config_of(d.name)) is not None]
        return max(wins, default=1)


def run_detectors(
    window: Sequence[RoundFacts], market: MarketFacts, cfg: DetectorsConfig, kept: dict[str, Any] | None = None
) -> list[Alert]:
    """Every enabled detector's alerts for the window (oldest round first), in registration order.

    ``kept``: a dict the caller keeps for a run and passes every round, the window moved on by one
    round each time; detectors that have a kept form (``Detector.kept``) keep theirs in it and
    work on the round that entered the window. The alerts are the same with or without it.
    """
    if not window:
        return []
    out: list[Alert] = []
    for d in DETECTORS.values():
        c = cfg.config_of(d.name)
        if c is None:
            continue
        if kept is not None and d.kept is not None:
            held = kept.get(d.name)
            if held is None or held[0] is not c or held[1] is not d:
                held = kept[d.name] = (c, d, d.kept(c))
            out += held[2](window, market)
        else:
            out += d.detect(window, market, c)
    return out


__all__ = [
    "ActFact",
    "Alert",
    "Benchmark",
    "BubbleConfig",
    "CollusionConfig",
    "DETECTORS",
    "CollusionWindow",
    "ConcentrationConfig",
    "ConcentrationWindow",
    "Detector",
    "DetectorsConfig",
    "FirmFact",
    "MarketFacts",
    "RingConfig",
    "RoundFacts",
    "Severity",
    "StormConfig",
    "StormWindow",
    "TradeFact",
    "WashConfig",
    "WashWindow",
    "collusion_index",
    "detect_bubbles",
    "detect_collusion",
    "detect_concentration",
    "detect_rings",
    "detect_reported_collusion",
    "detect_storms",
    "detect_wash",
    "hhi",
    "register_detector",
    "run_detectors",
    "unregister_detector",
]
