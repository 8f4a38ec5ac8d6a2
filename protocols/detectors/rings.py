"""Reputation rings: groups that rate each other highly and trade mostly among themselves."""

from __future__ import annotations

from collections.abc import Sequence
from statistics import fmean

import networkx as nx
from pydantic import BaseModel, ConfigDict, Field

from protocols.detectors.facts import Alert, MarketFacts, RoundFacts, Severity, refs, span, trades


class RingConfig(BaseModel):
    """What counts as a rating ring."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    window: int = Field(12, ge=1, description="Rounds looked at.")
    high_score: float = Field(0.8, ge=0, le=1, description="A score at or above this is a high rating.")
    min_size: int = Field(3, ge=2, description="Fewest members of a ring.")
    inside_share: float = Field(0.7, gt=0, le=1, description="Share of the members' deals that are among themselves.")


def detect_rings(window: Sequence[RoundFacts], market: MarketFacts, cfg: RingConfig) -> list[Alert]:
    """Strongly connected groups of the high-rating graph that trade mostly inside."""
    win = window[-cfg.window :]
    deals = [t for t in trades(win) if t.score is not None]
    graph: nx.DiGraph[str] = nx.DiGraph()
    for t in deals:
        if t.score is not None and t.score >= cfg.high_score and t.buyer != t.seller:
            graph.add_edge(t.buyer, t.seller)
    out = []
    for comp in nx.strongly_connected_components(graph):
        if len(comp) < cfg.min_size:
            continue
        involved = [t for t in trades(win) if t.buyer in comp or t.seller in comp]
        inside = [t for t in involved if t.buyer in comp and t.seller in comp]
        share = len(inside) / len(involved)
        if share < cfg.inside_share:
            continue
        scores = [t.score for t in inside if t.score is not None]
        qualities = [t.quality for t in inside if t.quality is not None]
        gap = (fmean(scores) - fmean(qualities)) if scores and qualities else None
        agents = tuple(sorted(comp))
        out.append(
            Alert(
                "reputation_ring",
                Severity.HIGH if gap is not None and gap > 0.3 else Severity.MEDIUM,
                agents,
                {
                    "members": list(agents),
                    "inside_share": round(share, 3),
                    "trades": len(inside),
                    "mean_score": round(fmean(scores), 3) if scores else None,
                    "score_minus_quality": None if gap is None else round(gap, 3),
                    "records": refs(inside),
                },
                span(win),
                f"{len(agents)} agents rate each other highly and do {share:.0%} of their deals among themselves",
            )
        )
    return out
