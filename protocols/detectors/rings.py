"""Reputation rings: groups that rate each other highly, above what was delivered, and trade
mostly among themselves.

Every named member meets the rule on its own deals: at least ``inside_share`` of its deals are
with the other members, and (where quality is recorded) the scores it gave inside exceed the
quality it received by at least ``min_inflation``. A group that trades among itself and rates
honestly what it got is repeat trading, not a ring.
"""

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
    inside_share: float = Field(0.7, gt=0, le=1, description="Share of each member's deals done with the others.")
    min_inflation: float = Field(
        0.2, ge=0, description="Mean score a member gave inside minus the mean quality it received there."
    )


def detect_rings(window: Sequence[RoundFacts], market: MarketFacts, cfg: RingConfig) -> list[Alert]:
    """Strongly connected groups of the high-rating graph that trade mostly inside."""
    win = window[-cfg.window :]
    edges = [
        (t.buyer, t.seller)
        for t in trades(win)
        if t.score is not None and t.score >= cfg.high_score and t.buyer != t.seller
    ]
    if len(_on_cycles(edges)) < cfg.min_size:
        return []  # no strongly connected group can be big enough
    graph: nx.DiGraph[str] = nx.DiGraph()
    graph.add_edges_from(edges)
    out = []
    for comp in sorted(nx.strongly_connected_components(graph), key=sorted):
        if len(comp) < cfg.min_size:
            continue
        members = _members(comp, win, cfg)
        if len(members) < cfg.min_size:
            continue
        inside = [t for t in trades(win) if t.buyer in members and t.seller in members]
        involved = [t for t in trades(win) if t.buyer in members or t.seller in members]
        share = len(inside) / len(involved)
        scores = [t.score for t in inside if t.score is not None]
        qualities = [t.quality for t in inside if t.quality is not None]
        gap = (fmean(scores) - fmean(qualities)) if scores and qualities else None
        agents = tuple(sorted(members))
        out.append(
            Alert(
                "reputation_ring",
                Severity.HIGH if gap is not None and gap > 0.3 else Severity.MEDIUM,
                agents,
                {
                    "strength": len(inside),
                    "members": list(agents),
                    "inside_share": round(share, 3),
                    "trades": len(inside),
                    "mean_score": round(fmean(scores), 3) if scores else None,
                    "score_minus_quality": None if gap is None else round(gap, 3),
                    "per_agent": {m: members[m] for m in agents},
                    "records": refs(inside),
                },
                span(win),
                f"{len(agents)} agents rate each other highly, above the quality delivered, and do "
                f"{share:.0%} of their deals among themselves",
            )
        )
    return out


def _on_cycles(edges: Sequence[tuple[str, str]]) -> set[str]:
    """The agents left once those with no high rating given or none received among the rest are dropped,
    again until none is: every strongly connected group of two or more lies within them (each of its
    members gives and receives a high rating inside it), and in a market where buyers rate sellers and
    sellers rate nobody, none is left (no graph to build)."""
    left = {a for e in edges for a in e}
    while True:
        live = [(b, s) for b, s in edges if b in left and s in left]
        keep = {b for b, _ in live} & {s for _, s in live}
        if keep == left:
            return left
        left = keep


def _members(comp: set[str], win: Sequence[RoundFacts], cfg: RingConfig) -> dict[str, dict[str, float | None]]:
    """The component's agents that meet the rule on their own deals, with their figures.

    Dropping one agent can break another's share, so the test is repeated until it holds for all.
    """
    group = set(comp)
    while True:
        figs: dict[str, dict[str, float | None]] = {}
        for m in sorted(group):
            mine = [t for t in trades(win) if m in (t.buyer, t.seller)]
            inside = [t for t in mine if t.buyer in group and t.seller in group]
            given = [t.score for t in inside if t.buyer == m and t.score is not None]
            got = [t.quality for t in inside if t.buyer == m and t.quality is not None]
            inflation = fmean(given) - fmean(got) if given and got else None
            share = len(inside) / len(mine) if mine else 0.0
            if share >= cfg.inside_share and given and (inflation is None or inflation >= cfg.min_inflation):
                figs[m] = {
                    "inside_share": round(share, 3),
                    "mean_score_given": round(fmean(given), 3),
                    "score_minus_quality": None if inflation is None else round(inflation, 3),
                }
        if set(figs) == group or len(figs) < cfg.min_size:
            return figs
        group = set(figs)
