"""Concentration: the Herfindahl-Hirschman index of sellers' shares of a service's volume.

Defaults follow the 2023 US merger guidelines: a market above 1,800 is highly concentrated
and a rise of more than 100 is significant. With ``require_rise`` (the default) both must
hold, as in the guidelines' presumption; without it the level alone raises an alert.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence

from pydantic import BaseModel, ConfigDict, Field

from protocols.detectors.facts import Alert, MarketFacts, RoundFacts, Severity, TradeFact, span, trades


class ConcentrationConfig(BaseModel):
    """HHI thresholds and the sample size they need."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    window: int = Field(10, ge=1, description="Rounds in each of the two windows compared.")
    level: float = Field(1800.0, ge=0, le=10000, description="HHI above which a market is highly concentrated.")
    rise: float = Field(100.0, ge=0, description="HHI rise between the previous window and this one that matters.")
    require_rise: bool = Field(True, description="Alert only when the level is passed and the rise too.")
    min_trades: int = Field(20, ge=1, description="Deals of the service needed in the window.")


def hhi(volumes: Mapping[str, float]) -> float | None:
    """HHI on the 0-10,000 scale of the given volumes (None without volume)."""
    total = sum(volumes.values())
    if total <= 0:
        return None
    return sum((100.0 * v / total) ** 2 for v in volumes.values())


def _volumes(deals: Iterable[TradeFact], service: str) -> dict[str, float]:
    out: dict[str, float] = defaultdict(float)
    for t in deals:
        if t.service == service:
            out[t.seller] += t.price
    return out


def detect_concentration(window: Sequence[RoundFacts], market: MarketFacts, cfg: ConcentrationConfig) -> list[Alert]:
    """Alerts for services whose seller HHI passes the thresholds."""
    now, before = window[-cfg.window :], window[-2 * cfg.window : -cfg.window]
    deals_now, deals_before = trades(now), trades(before)
    out = []
    for service in sorted({t.service for t in deals_now}):
        vol = _volumes(deals_now, service)
        n = sum(1 for t in deals_now if t.service == service)
        level = hhi(vol)
        if level is None or n < cfg.min_trades or level <= cfg.level:
            continue
        prev = hhi(_volumes(deals_before, service))
        rise = None if prev is None else level - prev
        if cfg.require_rise and (rise is None or rise <= cfg.rise):
            continue
        total = sum(vol.values())
        top = sorted(vol, key=lambda s: (-vol[s], s))[:3]
        out.append(
            Alert(
                "concentration",
                Severity.HIGH if level > 2 * cfg.level else Severity.MEDIUM,
                tuple(sorted(top)),
                {
                    "service": service,
                    "hhi": round(level, 1),
                    "previous_hhi": None if prev is None else round(prev, 1),
                    "rise": None if rise is None else round(rise, 1),
                    "trades": n,
                    "top_shares": {s: round(vol[s] / total, 3) for s in top},
                },
                span(now),
                f"{service}: HHI {level:.0f}" + (f", up {rise:.0f}" if rise is not None else "") + f" over {n} deals",
            )
        )
    return out
