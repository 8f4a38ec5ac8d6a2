"""Metrics, declared in one place as reporters over a round's log and the run's totals.

Each reporter is a small function; ``REPORTERS`` is the table the session evaluates at the
end of every round. Money values are reported in currency units. The built-in reporters read
the round's figures ``update_totals`` makes in one pass over the round's records and deals
(``RoundFigures``), so a round's log is walked once, not once per reporter.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from itertools import repeat
from operator import mul, truediv
from typing import Any

from sandbox.record import RoundLog


@dataclass
class RoundFigures:
    """One round's sums, made by ``update_totals`` in one pass over its records and one over its deals."""

    accepted: int = 0
    rejected: int = 0
    violations: int = 0  # records whose rule is in ``VIOLATION_RULES``
    rejections: Counter[str] = field(default_factory=Counter)  # rejected records by rule, in order of first seen
    settled: list[Any] = field(default_factory=list)
    refunds: int = 0
    volume: int = 0  # micro-units, settled deals
    surplus: int = 0
    fees: int = 0
    seller_volume: Counter[str] = field(default_factory=Counter)  # this round's settled volume by seller


@dataclass
class RunTotals:
    """Running sums over the rounds so far."""

    max_surplus: int = 0  # micro-units; 0 when values are unknown
    surplus: int = 0
    volume: int = 0
    n_tx: int = 0
    fees: int = 0
    fines: int = 0
    quality_sum: float = 0.0  # outcome scores of settled deals that have one (delivered quality as measured)
    quality_n: int = 0
    seller_volume: Counter[str] = field(default_factory=Counter)
    balances: Mapping[str, int] = field(default_factory=dict)  # agent id -> balance at round end
    now: RoundFigures = field(default_factory=RoundFigures)  # the round just folded in
    hhi: float | None = None  # of ``seller_volume``, made again only when it changed
    gini: float | None = None  # of ``balances``, made again only when they changed


def max_surplus(buyers: Iterable[tuple[str, float, int]], sellers: Iterable[tuple[str, float, int]]) -> float:
    """The most surplus a market can create: (service, value, demand) vs (service, cost, capacity).

    Per service, unit values sorted high to low meet unit costs sorted low to high; every
    pair with value above cost adds its difference (the competitive-equilibrium surplus).
    """
    values: dict[str, list[float]] = {}
    costs: dict[str, list[float]] = {}
    for service, v, units in buyers:
        values.setdefault(service, []).extend([v] * units)
    for service, c, units in sellers:
        costs.setdefault(service, []).extend([c] * units)
    total = 0.0
    for service, vs in values.items():
        cs = sorted(costs.get(service, []))
        for v, c in zip(sorted(vs, reverse=True), cs, strict=False):
            if v <= c:
                break
            total += v - c
    return total


def hhi(shares: Mapping[str, float]) -> float | None:
    """Herfindahl-Hirschman index of shares, on the 0-10,000 scale (None without volume)."""
    total = sum(shares.values())
    if total <= 0:
        return None
    # (100.0 * s / total) ** 2 for each share, in order, worked out in C (map) rather than a generator: the same sum
    return sum(map(pow, map(truediv, map(mul, repeat(100.0), shares.values()), repeat(total)), repeat(2)))


def gini(values: Iterable[float]) -> float | None:
    """Gini coefficient of non-negative values (0 equal, 1 one holds all)."""
    xs = sorted(values)
    n, total = len(xs), sum(xs)
    if n == 0 or total <= 0:
        return None
    cum = sum(map(mul, range(1, n + 1), xs))  # (i + 1) * x in order, in C: the same sum
    return (2 * cum) / (n * total) - (n + 1) / n


Reporter = Callable[[RoundLog, RunTotals], Any]

REPORTERS: dict[str, Reporter] = {
    "actions": lambda log, t: len(log.records),
    "turns": lambda log, t: log.turns,
    "waits": lambda log, t: log.waits,
    "substeps": lambda log, t: log.substeps,
    "accepted": lambda log, t: t.now.accepted,
    "rejected": lambda log, t: t.now.rejected,
    "transactions": lambda log, t: len(t.now.settled),
    "refunds": lambda log, t: t.now.refunds,
    "volume": lambda log, t: t.now.volume / 1e6,
    "mean_price": lambda log, t: t.now.volume / len(t.now.settled) / 1e6 if t.now.settled else None,
    "surplus": lambda log, t: t.now.surplus / 1e6,
    "cum_surplus": lambda log, t: t.surplus / 1e6,
    "efficiency": lambda log, t: (t.surplus / t.max_surplus) if t.max_surplus > 0 else None,
    "fees": lambda log, t: t.now.fees / 1e6,
    "fines": lambda log, t: log.fines / 1e6,
    # cumulative: sellers' shares of all volume since round 1 (slow to show a change)
    "hhi": lambda log, t: t.hhi,
    # this round only: sellers' shares of the round's settled volume (the detector's windows are in between)
    "hhi_round": lambda log, t: hhi(t.now.seller_volume),
    "gini": lambda log, t: t.gini,
    "rejections_by_rule": lambda log, t: dict(sorted(t.now.rejections.items())),
    # the incentive policy's money flows this round (from the ledger, by posting kind)
    "taxes": lambda log, t: _flow(log, "tax"),
    "subsidies": lambda log, t: _flow(log, "subsidy"),
    "rewards": lambda log, t: _flow(log, "reward"),
    "report_bonuses": lambda log, t: _flow(log, "report_bonus"),
    "refunded": lambda log, t: _flow(log, "refund"),
    "price_dispersion": lambda log, t: _std([d.price / 1e6 for d in t.now.settled]),
    "outcome_score": lambda log, t: _mean([d.thread.score for d in t.now.settled if d.thread.score is not None]),
    "violations": lambda log, t: t.now.violations,
    # then what a mechanism defines (None elsewhere), added by its registration (add_fact_metric):
    # double-auction periods, Bertrand's collusion index (sandbox.mechanisms.registry)
}


def add_fact_metric(name: str) -> None:
    """Report the round fact ``name`` (a mechanism's ``round_facts()``) as a round metric; None when absent."""
    if name not in REPORTERS:
        REPORTERS[name] = lambda log, t: log.facts.get(name)


def remove_fact_metric(name: str) -> None:
    """Stop reporting a fact metric ``add_fact_metric`` added."""
    REPORTERS.pop(name, None)


VIOLATION_RULES = frozenset({"impersonation", "self_trade", "funds"})
"""Rejections that break a rule the default policy fines (not a late or malformed move)."""


def _flow(log: RoundLog, kind: str) -> float:
    return log.facts.get("flows", {}).get(kind, 0) / 1e6


def _mean(xs: list[float]) -> float | None:
    return sum(xs) / len(xs) if xs else None


def _std(xs: list[float]) -> float | None:
    """Population standard deviation (None with fewer than two prices)."""
    if len(xs) < 2:
        return None
    m = sum(xs) / len(xs)
    return (sum((x - m) ** 2 for x in xs) / len(xs)) ** 0.5


def frame(history: Iterable[Mapping[str, Any]]) -> Any:
    """Per-round metrics (the session's ``history``) as a pandas DataFrame indexed by round."""
    import pandas as pd

    return pd.DataFrame(list(history)).set_index("round")


def period_frame(summary: Mapping[str, Any]) -> Any:
    """A double auction's periods (trades, surplus, efficiency) as a DataFrame indexed by period."""
    import pandas as pd

    periods = summary.get("market", {}).get("periods", [])
    return pd.DataFrame(periods).set_index("period") if periods else pd.DataFrame()


def update_totals(totals: RunTotals, log: RoundLog, balances: Mapping[str, int]) -> None:
    """Fold a round into the run's totals and make its figures (``totals.now``), before the reporters run."""
    now = RoundFigures()
    rejections = now.rejections
    accepted = violations = 0
    for r in log.records:
        verdict = r.verdict
        if verdict.accepted:
            accepted += 1
        else:
            rejections[verdict.rule] += 1
        if verdict.rule in VIOLATION_RULES:
            violations += 1
    now.accepted, now.rejected, now.violations = accepted, len(log.records) - accepted, violations
    for d in log.deals:
        if d.status == "settled":
            now.settled.append(d)
            now.volume += d.price
            now.surplus += d.value - d.cost
            now.fees += d.fee
            now.seller_volume[d.thread.seller] += d.price
            totals.seller_volume[d.thread.seller] += d.price
            if d.thread.score is not None:
                totals.quality_sum += d.thread.score
                totals.quality_n += 1
        elif d.status == "refunded":
            now.refunds += 1
    totals.surplus += now.surplus
    totals.volume += now.volume
    totals.n_tx += len(now.settled)
    totals.fees += now.fees
    totals.fines += log.fines
    if now.settled:
        totals.hhi = hhi(totals.seller_volume)
    if balances != totals.balances or not balances:
        totals.gini = gini(map(truediv, balances.values(), repeat(1e6)))  # b / 1e6 each
    totals.balances = balances
    totals.now = now


def report(log: RoundLog, totals: RunTotals) -> dict[str, Any]:
    """Evaluate every reporter for a round."""
    return {name: fn(log, totals) for name, fn in REPORTERS.items()}
