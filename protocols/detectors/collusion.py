"""Collusion: prices persistently above the competitive benchmark, sellers pricing in
parallel, and coordination language in what they say.

The collusion index of a group of sellers is (p - p_c) / (p_m - p_c) when the scenario gives
a monopoly price p_m, else the relative markup (p - p_c) / p_c, where p is the mean of their
median prices and p_c the competitive benchmark.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from statistics import fmean, median

from pydantic import BaseModel, ConfigDict, Field

from protocols.detectors.facts import Alert, Benchmark, MarketFacts, RoundFacts, Severity, acts, refs, span, trades
from protocols.verdict import Rule


class CollusionConfig(BaseModel):
    """When prices and talk look like collusion."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    window: int = Field(8, ge=1, description="Rounds looked at.")
    index_threshold: float = Field(0.3, gt=0, description="Collusion index that counts as elevated.")
    parallel_spread: float = Field(
        0.05, ge=0, description="Largest relative spread of mean prices that counts as parallel."
    )
    min_seller_trades: int = Field(4, ge=1, description="Deals a seller needs in the window to be compared.")
    own_spread: float | None = Field(
        0.1, ge=0, description="Largest median absolute deviation of a seller's own prices, as a share of its median."
    )
    min_share: float = Field(0.5, ge=0, le=1, description="Share of the service's volume the group must hold.")
    reported_threshold: float = Field(
        0.5, description="A mechanism's own collusion index (profit-based) held at or above this over the window."
    )


def collusion_index(price: float, bench: Benchmark) -> float:
    """How far a price sits from the competitive benchmark toward the monopoly price."""
    if bench.monopoly is not None and bench.monopoly > bench.competitive:
        return (price - bench.competitive) / (bench.monopoly - bench.competitive)
    return (price - bench.competitive) / bench.competitive if bench.competitive > 0 else 0.0


def parallel_group(means: dict[str, float], spread: float) -> list[str]:
    """The largest set of sellers whose mean prices lie within ``spread`` of the set's median."""
    best: list[str] = []
    for anchor in sorted(means.values()):
        group = sorted(s for s, p in means.items() if abs(p - anchor) <= spread * anchor)
        if len(group) > len(best):
            best = group
    if len(best) >= 2:
        mid = median(means[s] for s in best)
        best = [s for s in best if abs(means[s] - mid) <= spread * mid]
    return best


def detect_collusion(window: Sequence[RoundFacts], market: MarketFacts, cfg: CollusionConfig) -> list[Alert]:
    """Alerts for services where a steady, parallel group holding much of the volume prices far above
    the benchmark, or where sellers propose coordinating prices."""
    win = window[-cfg.window :]
    out: list[Alert] = []
    coord = Rule.COORDINATION.value  # looked up once: an enum member's .value costs ~1 us a time
    talk = [a for a in acts(win) if a.rule == coord or coord in a.flags]
    talkers = sorted({a.agent for a in talk})
    by_service: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for t in trades(win):
        by_service[t.service][t.seller].append(t.price)
    priced: set[str] = set()
    for service, sellers in sorted(by_service.items()):
        bench = market.benchmarks.get(service)
        if bench is None:
            continue
        # a seller's typical price is its median: one buyer overpaying must not break the parallel
        means = {s: median(ps) for s, ps in sellers.items() if len(ps) >= cfg.min_seller_trades}
        # a cartel holds its price; random or competitive pricing scatters (robust to a few overpayments)
        steady = {
            s: m
            for s, m in means.items()
            if cfg.own_spread is None or median(abs(p - m) for p in sellers[s]) <= cfg.own_spread * m
        }
        group = parallel_group(steady, cfg.parallel_spread)
        total = sum(sum(ps) for ps in sellers.values())
        share = sum(sum(sellers[s]) for s in group) / total if total > 0 else 0.0
        if len(group) < 2 or share < cfg.min_share:
            continue
        group_price = fmean(means[s] for s in group)
        index = collusion_index(group_price, bench)
        if index < cfg.index_threshold:
            continue
        in_talk = sorted(set(group) & set(talkers))
        agents = tuple(sorted(set(group) | set(in_talk)))
        priced |= set(agents)
        out.append(
            Alert(
                "collusion",
                Severity.HIGH if in_talk else Severity.MEDIUM,
                agents,
                {
                    "service": service,
                    "collusion_index": round(index, 3),
                    "mean_price": round(group_price, 2),
                    "competitive_price": bench.competitive,
                    "monopoly_price": bench.monopoly,
                    "group_share": round(share, 3),
                    "seller_medians": {s: round(means[s], 2) for s in group},
                    "coordination_messages": refs(a for a in talk if a.agent in in_talk),
                    "records": refs(t for t in trades(win) if t.service == service and t.seller in group),
                },
                span(win),
                f"{len(group)} sellers of {service} priced in parallel at {group_price:.2f}, "
                f"collusion index {index:.2f} (benchmark {bench.competitive:g})"
                + (", after coordination talk" if in_talk else ""),
            )
        )
    rest = [a for a in talkers if a not in priced]
    if rest:
        out.append(
            Alert(
                "collusion",
                Severity.LOW,
                tuple(rest),
                {
                    "coordination_messages": refs(a for a in talk if a.agent in rest),
                    "attempts": sum(1 for a in talk if a.agent in rest),
                },
                span(win),
                f"{', '.join(rest)} proposed coordinating prices to competitors",
            )
        )
    return out


def detect_reported_collusion(window: Sequence[RoundFacts], market: MarketFacts, cfg: CollusionConfig) -> list[Alert]:
    """An alert when the mechanism's own collusion index stays high for the whole window.

    Mechanisms without deals between agents (posted prices with simulated consumers) report a
    profit-based index, (profit - Nash profit) / (monopoly profit - Nash profit), each round.
    """
    win = window[-cfg.window :]
    values = [(rf.round, rf.figure("collusion_index")) for rf in win]
    if len(win) < cfg.window or any(v is None for _, v in values):
        return []
    index = fmean(v for _, v in values if v is not None)
    if min(v for _, v in values if v is not None) < cfg.reported_threshold:
        return []
    sellers = tuple(sorted(a for a, role in market.roles.items() if role == "seller"))
    return [
        Alert(
            "collusion",
            Severity.MEDIUM,
            sellers,
            {
                "reported_collusion_index": round(index, 3),
                "threshold": cfg.reported_threshold,
                "by_round": {str(r): round(v, 3) for r, v in values if v is not None},
                "scope": "mechanism",
            },
            span(win),
            f"the market's collusion index stayed at or above {cfg.reported_threshold} for {len(win)} rounds "
            f"(mean {index:.2f}): sellers price near the joint-monopoly level",
        )
    ]
