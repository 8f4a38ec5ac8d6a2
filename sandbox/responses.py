"""Measured responses to incentive levers: small markets run under a policy change, and the theory.

Shared by ``tests/test_incentives_response.py`` and ``benchmarks/bench_incentives.py``; each
function runs ordinary sessions (no tracing, no store) and returns plain numbers.
docs/incentives.md explains each lever, the response theory expects and the one measured here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sandbox.metrics import period_frame
from sandbox.scenario import Scenario, load_scenario, parse_scenario
from sandbox.session import Session


def competitive_quantity(values: Iterable[float], floors: Iterable[float]) -> int:
    """Units that trade in competitive equilibrium: unit values high to low meet floors low to high."""
    pairs = zip(sorted(values, reverse=True), sorted(floors), strict=False)
    return sum(1 for v, c in pairs if v > c)


def with_policy(scenario: Scenario, changes: Mapping[str, Any], seed: int, rounds: int | None = None) -> Scenario:
    """A copy of ``scenario`` under the policy changed by ``changes``, with ``seed`` (and ``rounds``)."""
    update: dict[str, Any] = {"policy": scenario.policy.with_changes(dict(changes)), "seed": seed}
    if rounds is not None:
        update["rounds"] = rounds
    return scenario.model_copy(update=update, deep=True)


def run(name: str, changes: Mapping[str, Any], seeds: Sequence[int], rounds: int | None = None) -> dict[str, float]:
    """Mean transactions, volume, violations and fines of a built-in scenario over ``seeds``."""
    base = load_scenario(name)
    keys = ("transactions", "volume", "violations", "fines")
    totals = dict.fromkeys(keys, 0.0)
    for seed in seeds:
        summary = Session(with_policy(base, changes, seed, rounds), tracing=False).run().summary
        for k in keys:
            totals[k] += summary[k] or 0.0
    return {k: v / len(seeds) for k, v in totals.items()}


def da_schedules() -> tuple[list[float], list[float]]:
    """Every buyer's unit values and every seller's unit costs in the built-in double auction."""
    values: list[float] = []
    costs: list[float] = []
    for group in load_scenario("double_auction").population:
        (values if group.role == "buyer" else costs).extend(float(x) for x in group.schedule or [])
    return values, costs


def mean_period_trades(changes: Mapping[str, Any], seeds: Sequence[int], periods: int = 2) -> float:
    """Mean units traded per period of the ZI-C double auction under the changed policy."""
    base = load_scenario("double_auction")
    per = base.mechanism.period_rounds  # type: ignore[attr-defined]  # that scenario's spec is a DoubleAuctionSpec
    trades: list[float] = []
    for seed in seeds:
        summary = Session(with_policy(base, changes, seed, per * periods), tracing=False).run().summary
        trades += period_frame(summary)["trades"].tolist()
    return sum(trades) / len(trades)


OPPORTUNISTS = 6


def opportunist_violation_rate(fine: float, seeds: Sequence[int]) -> tuple[float, float]:
    """Violations per temptation of the opportunists at a funds fine, and mean transactions.

    Every opportunist sees a listing it can offend on from round 2 on (sellers list 80 units
    in round 1 and buyers want 24), so temptations are ``opportunists x (rounds - 1)``.
    """
    base = load_scenario("opportunists")
    counts = run("opportunists", {"fines": {"funds": fine}}, seeds)
    return counts["violations"] / (OPPORTUNISTS * (base.rounds - 1)), counts["transactions"]


EFFORT_MARKET: dict[str, Any] = {
    "name": "effort",
    "seed": 1,
    "rounds": 12,
    "mechanism": {"kind": "intermediary", "outcome": "drawn"},
    "market": {"min_price": 1.0, "max_price": 200.0, "delivery_rounds": 2},
    "policy": {"fee_rate": 0.0, "fines": {}, "reputation": {"prior": 0.5, "alpha": 0.2, "weight": 0.0}},
    "safety": {"enabled": False},
    "population": [
        {"agent": "match_buyer", "n": 8, "role": "buyer", "service": "repair", "budget": 2000, "value": 150,
         "demand": 12},
        {"agent": "effort_seller", "n": 4, "role": "seller", "service": "repair", "cost": 30, "capacity": 30,
         "params": {"markup": 0.5, "effort_cost": 20.0, "horizon": 3}},
    ],
}  # fmt: skip


def effort_market(changes: Mapping[str, Any], seeds: Sequence[int] = (1, 2)) -> tuple[list[float], float]:
    """Qualities the effort sellers delivered (their truthful claims) and the mean drawn outcome."""
    base = parse_scenario(dict(EFFORT_MARKET), "effort market")
    claims: list[float] = []
    outcomes: list[float] = []
    for seed in seeds:
        s = Session(with_policy(base, changes, seed), tracing=False)
        s.run()
        for t in s.market.threads.values():
            if t.quality is not None:
                claims.append(t.quality)
            if t.score is not None:
                outcomes.append(t.score)
    return claims, (sum(outcomes) / len(outcomes) if outcomes else 0.0)
