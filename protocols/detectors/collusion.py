"""Collusion: sellers each pricing persistently above the competitive benchmark, in parallel,
and coordination language in what they say.

Every named seller meets the rule on its own figures: its own median price has a collusion
index (p - p_c) / (p_m - p_c) (with a monopoly price p_m, else (p - p_c) / p_c) at or above the
threshold, and, where its cost is known, a margin over that cost of at least ``min_margin``.
In markets that report per-firm figures (posted prices with simulated consumers) a firm is
named only when its own price and its own profit both sit near the joint-monopoly level.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from statistics import fmean, median
from typing import TypedDict

from pydantic import BaseModel, ConfigDict, Field

from protocols.detectors.facts import (
    ActFact,
    Alert,
    Benchmark,
    FirmFact,
    MarketFacts,
    PerRound,
    RoundFacts,
    Severity,
    refs,
    span,
    trades,
    under_rule,
)
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
    min_margin: float | None = Field(
        0.4, ge=0, description="Smallest (price - own cost) / price of a named seller, where its cost is known."
    )
    reported_threshold: float = Field(
        0.5, description="Mean price and profit index (own Nash 0, own monopoly 1) of a named firm over the window."
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
    """Alerts for services where a steady, parallel group of sellers, each pricing far above the
    benchmark and its own cost, holds much of the volume; and for sellers proposing to coordinate."""
    win = window[-cfg.window :]
    return _detect(win, market, cfg, [a for rf in win for a in _talk(rf)])


class CollusionWindow:
    """``detect_collusion`` kept across rounds (``Detector.kept``): a round's coordination talk is picked
    out of its actions once, when the round enters the window, not again for every window it is in; and
    each seller's deals in the window, and how many of them were priced at or above the index threshold,
    are counted as rounds enter and leave (``_Counts``). A seller whose median price reaches the threshold
    has at least half its deals there (the index rises with the price), so a service with fewer than two
    such sellers holds no group: when no service has two, the window's prices are not gathered at all."""

    def __init__(self, cfg: CollusionConfig) -> None:
        self.cfg = cfg
        self._talk: PerRound[list[ActFact]] = PerRound()
        self._counts: _Counts | None = None

    def detect(self, window: Sequence[RoundFacts], market: MarketFacts) -> list[Alert]:
        """The alerts of ``detect_collusion`` for this window."""
        cfg = self.cfg
        win = window[-cfg.window :]
        talk = [a for talk in self._talk.of(win, _talk) for a in talk]
        counts = self._counts
        if counts is None or counts.market is not market:
            counts = self._counts = _Counts(market, cfg.index_threshold)
        counts.move_to(win)
        least, candidates = cfg.min_seller_trades, {}
        for service, by in counts.by_service.items():
            may = {s for s, (n, high) in by.items() if n >= least and 2 * high >= n - n % 2}
            if len(may) >= 2:
                candidates[service] = may
        return _detect(win, market, cfg, talk, candidates)


class _Counts:
    """Per service with a benchmark, per seller: deals in the window and those priced at or above the index
    threshold (rounded as the rule rounds it), kept as the window moves on."""

    def __init__(self, market: MarketFacts, threshold: float) -> None:
        self.market, self.threshold = market, threshold
        self.by_service: dict[str, dict[str, list[int]]] = {}
        self._win: tuple[RoundFacts, ...] = ()
        self._held: dict[int, tuple[RoundFacts, list[tuple[str, str, int]]]] = {}  # rounds in, by id, with facts

    def _round(self, rf: RoundFacts) -> list[tuple[str, str, int]]:
        """A round's deals as (service, seller, 1 when priced at or above the threshold), those with a benchmark."""
        benchmarks, threshold = self.market.benchmarks, self.threshold
        return [
            (t.service, t.seller, int(round(collusion_index(t.price, bench), 3) >= threshold))
            for t in rf.trades
            if (bench := benchmarks.get(t.service)) is not None
        ]

    def _add(self, rf: RoundFacts, sign: int) -> None:
        by_service = self.by_service
        found = self._held.pop(id(rf), None) if sign < 0 else None
        deals = found[1] if found is not None and found[0] is rf else self._round(rf)
        if sign > 0:
            self._held[id(rf)] = (rf, deals)
        for service, seller, high in deals:
            by = by_service.get(service)
            if by is None:
                by = by_service[service] = {}
            c = by.get(seller)
            if c is None:
                by[seller] = [sign, sign * high]
            else:
                c[0] += sign
                c[1] += sign * high
                if c[0] == 0:
                    del by[seller]

    def move_to(self, win: Sequence[RoundFacts]) -> None:
        """Bring the counts to ``win``: the rounds that left are taken out and the new ones put in, or, for a
        window that does not continue the last one, every round counted again."""
        old, new = self._win, tuple(win)
        k = next((i for i, rf in enumerate(old) if rf is new[0]), None) if new else None
        if k is None or len(new) < len(old) - k or any(a is not b for a, b in zip(old[k:], new, strict=False)):
            self.by_service, self._held, entering = {}, {}, new  # start again
            old, k = (), 0
        else:
            entering = new[len(old) - k :]
        for rf in old[:k]:
            self._add(rf, -1)
        for rf in entering:
            self._add(rf, 1)
        self._win = new


def _talk(rf: RoundFacts) -> list[ActFact]:
    """A round's actions that proposed coordination (rejected for it, or flagged)."""
    return under_rule(rf, _COORD)


_COORD = Rule.COORDINATION.value  # looked up once: an enum member's .value costs ~1 us a time


def _detect(
    win: Sequence[RoundFacts],
    market: MarketFacts,
    cfg: CollusionConfig,
    talk: list[ActFact],
    candidates: Mapping[str, set[str]] | None = None,
) -> list[Alert]:
    """``detect_collusion`` on the window's last ``cfg.window`` rounds, given their coordination talk in order.

    ``candidates`` (``CollusionWindow``): per service that may hold a group, the sellers that may be in it;
    only their prices are gathered (every seller's, for the group's share, once a group forms)."""
    out: list[Alert] = []
    talkers = sorted({a.agent for a in talk})
    by_service: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    if candidates is None:
        for t in trades(win):
            by_service[t.service][t.seller].append(t.price)
    elif candidates:
        for t in trades(win):
            if t.seller in candidates.get(t.service, ()):
                by_service[t.service][t.seller].append(t.price)
    priced: set[str] = set()
    for service, sellers in sorted(by_service.items()):
        bench = market.benchmarks.get(service)
        if bench is None:
            continue
        # a seller's typical price is its median: one buyer overpaying must not break the parallel
        medians = {s: median(ps) for s, ps in sellers.items() if len(ps) >= cfg.min_seller_trades}
        # each candidate must, on its own: hold its price (a cartel does; random or competitive
        # pricing scatters), price far above the benchmark, and far above its own cost; the
        # scatter (a median over its deals) is worked out only for a seller that passes the rest
        figures: dict[str, SellerFigures] = {}
        for s, med in medians.items():
            if round(collusion_index(med, bench), 3) < cfg.index_threshold:
                continue
            margin = _margin(s, med, market, service)
            if cfg.min_margin is not None and margin is not None and margin < cfg.min_margin:
                continue
            figures[s] = _seller_figures(s, sellers[s], med, bench, market, service)
        qualified = {
            s: medians[s] for s, f in figures.items() if (cfg.own_spread is None or f["spread"] <= cfg.own_spread)
        }
        group = parallel_group(qualified, cfg.parallel_spread)
        if len(group) < 2:
            continue  # no group: its share is not needed
        if candidates is not None:  # every seller's prices, for the share
            sellers = defaultdict(list)
            for t in trades(win):
                if t.service == service:
                    sellers[t.seller].append(t.price)
        total = sum(sum(ps) for ps in sellers.values())
        share = sum(sum(sellers[s]) for s in group) / total if total > 0 else 0.0
        if share < cfg.min_share:
            continue
        group_price = fmean(medians[s] for s in group)
        index = collusion_index(group_price, bench)
        in_talk = sorted(set(group) & set(talkers))
        agents = tuple(sorted(group))
        priced |= set(agents)
        out.append(
            Alert(
                "collusion",
                Severity.HIGH if in_talk else Severity.MEDIUM,
                agents,
                {
                    "service": service,
                    "strength": round(index, 3),
                    "collusion_index": round(index, 3),
                    "mean_price": round(group_price, 2),
                    "competitive_price": bench.competitive,
                    "monopoly_price": bench.monopoly,
                    "group_share": round(share, 3),
                    "per_agent": {s: figures[s] for s in agents},
                    "coordination_messages": refs(a for a in talk if a.agent in in_talk),
                    "records": refs(t for t in trades(win) if t.service == service and t.seller in group),
                },
                span(win),
                f"{len(group)} sellers of {service} each priced steadily at collusion index >= "
                f"{cfg.index_threshold:g} and in parallel at {group_price:.2f} (benchmark {bench.competitive:g})"
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
                    "strength": sum(1 for a in talk if a.agent in rest),
                    "coordination_messages": refs(a for a in talk if a.agent in rest),
                    "attempts": sum(1 for a in talk if a.agent in rest),
                    "per_agent": {a: {"attempts": sum(1 for x in talk if x.agent == a)} for a in rest},
                },
                span(win),
                f"{', '.join(rest)} proposed coordinating prices to competitors",
            )
        )
    return out


class SellerFigures(TypedDict):
    """One seller's own figures over a window (the evidence of a collusion alert)."""

    deals: int
    median_price: float
    spread: float
    index: float
    cost: float | None
    margin: float | None


def _seller_figures(
    seller: str, prices: list[float], med: float, bench: Benchmark, market: MarketFacts, service: str
) -> SellerFigures:
    """One seller's own figures over the window: deals, median, scatter, index and margin over its cost."""
    cost = market.costs.get(seller, {}).get(service)
    return {
        "deals": len(prices),
        "median_price": round(med, 2),
        "spread": round(median(abs(p - med) for p in prices) / med, 3) if med > 0 else 0.0,
        "index": round(collusion_index(med, bench), 3),
        "cost": cost,
        "margin": _margin(seller, med, market, service),
    }


def _margin(seller: str, med: float, market: MarketFacts, service: str) -> float | None:
    """A seller's margin over its own cost at its median price, as ``_seller_figures`` gives it."""
    cost = market.costs.get(seller, {}).get(service)
    return None if cost is None or med <= 0 else round((med - cost) / med, 3)


def detect_reported_collusion(window: Sequence[RoundFacts], market: MarketFacts, cfg: CollusionConfig) -> list[Alert]:
    """An alert naming the firms whose own price and own profit stayed near the joint-monopoly level.

    Mechanisms without deals between agents (posted prices with simulated logit consumers)
    report each firm's price and profit with its own Nash and monopoly benchmarks. A firm is
    named when, over the whole window, the mean of its price index and the mean of its profit
    index (Nash 0, monopoly 1) both reach ``reported_threshold``; an alert needs two such firms.
    A lone high pricer earns less than at Nash (its profit index is negative) and the rival
    that undercuts it prices near Nash: neither is named. Punishments (a firm cutting its
    price the round after a rival undercut it) are counted in the evidence.
    """
    win = window[-cfg.window :]
    if len(win) < cfg.window or any(not rf.firms for rf in win):
        return []
    series: dict[str, list[FirmFact]] = defaultdict(list)
    for rf in win:
        for f in rf.firms:
            series[f.agent].append(f)
    per_agent = {
        a: {
            "mean_price": round(fmean(f.price for f in fs), 4),
            "price_index": round(fmean(f.price_index for f in fs), 3),
            "profit_index": round(fmean(f.profit_index for f in fs), 3),
            "punishments": _punishments(a, win),
        }
        for a, fs in sorted(series.items())
        if len(fs) == len(win)
    }
    named = tuple(
        a
        for a, f in per_agent.items()
        if f["price_index"] >= cfg.reported_threshold and f["profit_index"] >= cfg.reported_threshold
    )
    if len(named) < 2:
        return []
    index = fmean(float(per_agent[a]["price_index"]) for a in named)
    values = [(rf.round, rf.figure("collusion_index")) for rf in win]
    return [
        Alert(
            "collusion",
            Severity.HIGH if any(per_agent[a]["punishments"] for a in named) else Severity.MEDIUM,
            named,
            {
                "strength": round(index, 3),
                "threshold": cfg.reported_threshold,
                "per_agent": {a: per_agent[a] for a in named},
                "market_index_by_round": {str(r): round(v, 3) for r, v in values if v is not None},
                "scope": "mechanism",
            },
            span(win),
            f"{', '.join(named)} each held price and profit near their joint-monopoly level for {len(win)} rounds "
            f"(mean price index {index:.2f})",
        )
    ]


def _punishments(agent: str, win: Sequence[RoundFacts]) -> int:
    """Rounds in which ``agent`` cut its price right after a rival had priced below it."""
    n = 0
    for before, now in zip(win, win[1:], strict=False):
        mine = {f.agent: f.price for f in before.firms}
        cur = {f.agent: f.price for f in now.firms}
        if agent not in mine or agent not in cur:
            continue
        undercut = any(p < mine[agent] * 0.98 for a, p in mine.items() if a != agent)
        if undercut and cur[agent] < mine[agent] * 0.98:
            n += 1
    return n
