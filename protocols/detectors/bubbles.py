"""Bubbles and crashes: prices far from the fundamental value the scenario knows."""

from __future__ import annotations

from collections.abc import Sequence
from statistics import fmean

from pydantic import BaseModel, ConfigDict, Field

from protocols.detectors.facts import Alert, MarketFacts, RoundFacts, Severity, refs, span, trades


class BubbleConfig(BaseModel):
    """How far from fundamentals prices may drift."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    window: int = Field(6, ge=2, description="Rounds looked at.")
    above: float = Field(0.5, gt=0, description="Mean price above fundamental by this share: a bubble.")
    below: float = Field(0.5, gt=0, lt=1, description="Mean price below fundamental by this share: a crash.")
    min_trades: int = Field(5, ge=1, description="Deals needed in the window.")


def detect_bubbles(window: Sequence[RoundFacts], market: MarketFacts, cfg: BubbleConfig) -> list[Alert]:
    """Alerts for services whose recent prices sit far above or below their fundamental."""
    win = window[-cfg.window :]
    out = []
    for service, fundamental in sorted(market.fundamentals.items()):
        deals = [t for t in trades(win) if t.service == service]
        if len(deals) < cfg.min_trades or fundamental <= 0:
            continue
        mean = fmean(t.price for t in deals)
        half = len(deals) // 2
        early, late = fmean(t.price for t in deals[:half] or deals), fmean(t.price for t in deals[half:])
        ratio = mean / fundamental
        if ratio >= 1 + cfg.above:
            kind = "bubble"
        elif ratio <= 1 - cfg.below:
            kind = "crash"
        else:
            continue
        trending = (late > early) if kind == "bubble" else (late < early)
        out.append(
            Alert(
                kind,
                Severity.HIGH if trending else Severity.MEDIUM,
                (),
                {
                    "service": service,
                    "strength": round(abs(ratio - 1), 3),
                    "mean_price": round(mean, 2),
                    "fundamental": fundamental,
                    "ratio": round(ratio, 3),
                    "early_mean": round(early, 2),
                    "late_mean": round(late, 2),
                    "trades": len(deals),
                    "records": refs(deals),
                },
                span(win),
                f"{service} trades at {ratio:.2f}x its fundamental {fundamental:g}"
                + (" and moving away" if trending else ""),
            )
        )
    return out
