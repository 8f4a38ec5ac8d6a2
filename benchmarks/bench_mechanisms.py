"""Figures for the mechanisms and scenarios (docs/scenarios.md quotes them).

Prints: double-auction efficiency of ZI-C and ZI-U by period length; the Bertrand pairings'
prices and collusion index; the outcome market with and without reputation in the ranking;
and the double auction's order throughput with no store (tracing off).

    .venv/bin/python benchmarks/bench_mechanisms.py
"""

from __future__ import annotations

import time

from sandbox.scenario import load_scenario
from sandbox.session import Session


def double_auction() -> None:
    print("double auction: efficiency over 6 periods, by period length (rounds)")
    print(f"{'traders':8} {'period':>6} {'efficiency':>10} {'trades':>6}")
    for name, label in (("double_auction", "ZI-C"), ("double_auction_zi_u", "ZI-U")):
        for p in (2, 5, 10, 25):
            s = load_scenario(name)
            s.mechanism.period_rounds, s.rounds = p, 6 * p  # type: ignore[union-attr]
            r = Session(s).run().summary
            print(f"{label:8} {p:>6} {r['efficiency']:>10.1%} {r['transactions']:>6}")
        s = load_scenario(name)
        s.mechanism.book = "full"  # type: ignore[union-attr]
        r = Session(s).run().summary
        print(f"{label:8} {'25 full book':>6} {r['efficiency']:>10.1%} {r['transactions']:>6}")


def bertrand() -> None:
    print("\nbertrand (n=2, c=1, a=2, a0=0, mu=0.25), 100 rounds")
    for name in ("bertrand", "bertrand_grim", "bertrand_mixed"):
        m = Session(load_scenario(name)).run().summary["market"]
        print(
            f"{name:15} nash {m['nash_price'][0]:.4f} monopoly {m['monopoly_price'][0]:.4f} "
            f"last prices {list(m['last_prices'].values())} index {m['collusion_index']:.4f} "
            f"(last half {m['collusion_index_last_half']:.4f})"
        )


def outcome_market() -> None:
    print("\noutcome market: reputation weight in the ranking, with and without outcome payment")
    for paid in (True, False):
        for w in (0.0, 2.0):
            s = load_scenario("outcome_market")
            s.policy = s.policy.with_changes({"reputation": {"weight": w}, "outcome_payment": {"enabled": paid}})
            r = Session(s).run().summary
            print(
                f"outcome payment {'on ' if paid else 'off'} weight {w}: efficiency {r['efficiency']:.1%}, "
                f"mean |claim - quality| {r['market']['mean_claim_gap']}"
            )


def reported_outcomes() -> None:
    print("\noutcome market, reported outcomes: mean final balance of truthful and always-0 reporters")
    for bonus in (0.0, 20.0, 40.0):
        s = load_scenario("outcome_market_reported")
        s.policy = s.policy.with_changes({"outcome_payment": {"report_bonus": bonus}})
        session = Session(s)
        session.run()
        groups: dict[str, list[float]] = {"truthful": [], "low": []}
        for aid, agent in session.agents.items():
            if agent.kind == "match_buyer":
                groups[str(agent.params.get("report", "truthful"))].append(session.market.available_micros(aid) / 1e6)
        t, lo = (sum(v) / len(v) for v in (groups["truthful"], groups["low"]))
        print(f"report_bonus {bonus:>4}: truthful {t:.2f}, always 0 {lo:.2f}")


def throughput() -> None:
    s = load_scenario("double_auction")
    t0 = time.perf_counter()
    r = Session(s).run()
    dt = time.perf_counter() - t0
    n = r.summary["actions"]
    print(f"\ndouble auction, no store: {n} orders in {dt:.2f} s = {n / dt:,.0f} orders/s (whole round loop)")


if __name__ == "__main__":
    double_auction()
    bertrand()
    outcome_market()
    reported_outcomes()
    throughput()
