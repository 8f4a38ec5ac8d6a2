"""The issue's two wrong alerts as markets of our own, and alert cases instead of floods."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text

from protocols.detectors import Alert, Severity
from sandbox import Session
from sandbox.replay import replay
from sandbox.safety.cases import Case
from sandbox.scenario import parse_scenario
from traces import Store
from traces import alerts as alert_store
from traces.control import submit_command


def _bertrand(a: str, b: str, rounds: int = 40) -> Any:
    """Two firms of the Calvano baseline (Nash 1.4729, monopoly 1.9250)."""
    firm = {"n": 1, "role": "seller", "service": "product", "budget": 10, "cost": 1.0, "capacity": 1}
    return parse_scenario(
        {
            "name": "duo",
            "seed": 3,
            "rounds": rounds,
            "mechanism": {"kind": "posted_price", "demand": {"a": 2.0, "a0": 0.0, "mu": 0.25, "size": 1.0}},
            "market": {"min_price": 0.01, "max_price": 10.0, "max_actions_per_round": 1},
            "policy": {"fee_rate": 0.0, "fines": {}},
            "population": [{"agent": a, **firm}, {"agent": b, **firm}],
        }
    )


def test_a_lone_high_pricer_and_its_rival_are_not_named() -> None:
    s = Session(_bertrand("fixed_price", "best_responder"))
    s.run()
    # the market average the old detector used is high: one firm's monopoly price lifts its rival's profit
    assert sum(s.market.index_log[-8:]) / 8 > 0.5
    assert [c for c in s.safety.alerts.values() if c.alert.kind == "collusion"] == []
    high, rival = s.market._facts["firms"]["seller-000"], s.market._facts["firms"]["seller-001"]
    assert high["profit"] < high["nash_profit"] and rival["price"] < 0.5 * (
        rival["nash_price"] + rival["monopoly_price"]
    )


def test_two_firms_holding_monopoly_are_named_with_their_own_figures() -> None:
    s = Session(_bertrand("grim_trigger", "grim_trigger"))
    s.run()
    (case,) = s.safety.alerts.values()
    assert case.alert.kind == "collusion" and case.alert.agents == ("seller-000", "seller-001")
    for fig in case.alert.evidence["per_agent"].values():
        assert fig["price_index"] >= 0.99 and fig["profit_index"] >= 0.99
    assert case.count == 4  # rounds 8, 18, 28, 38: one case, not four alerts


def _monopoly(rounds: int = 12, safety: dict | None = None) -> Any:
    return parse_scenario(
        {
            "name": "monopoly",
            "safety": safety or {},
            "seed": 4,
            "rounds": rounds,
            "market": {"min_price": 1.0, "max_price": 200.0, "max_capacity": 100},
            "population": [
                {
                    "agent": "markup_seller",
                    "n": 1,
                    "role": "seller",
                    "service": "svc",
                    "cost": 20,
                    "capacity": 100,
                    "params": {"markup": 0.25},
                },
                {
                    "agent": "zi_c",
                    "n": 12,
                    "role": "buyer",
                    "service": "svc",
                    "budget": 1000,
                    "value": [40, 80],
                    "demand": 10,
                },
            ],
        }
    )


def test_a_market_concentrated_from_round_one_raises_a_level_alert() -> None:
    s = Session(_monopoly())
    s.run()
    (case,) = [c for c in s.safety.alerts.values() if c.alert.kind == "concentration"]
    ev = case.alert.evidence
    assert case.round == 10 and case.alert.agents == ("seller-000",)  # the first full window, no earlier one
    assert ev["window_hhi"] == 10000 and ev["cumulative_hhi"] == 10000 and ev["previous_window_hhi"] is None
    assert not [c for c in s.safety.alerts.values() if c.alert.kind == "concentration_rise"]


def test_concentration_thresholds_come_from_the_scenarios_safety_config() -> None:
    off = Session(_monopoly(safety={"detectors": {"concentration": {"level": None}}}))
    off.run()
    assert not [c for c in off.safety.alerts.values() if c.alert.kind.startswith("concentration")]
    high = Session(_monopoly(safety={"detectors": {"concentration": {"level": 9990, "min_trades": 10}}}))
    high.run()
    (case,) = [c for c in high.safety.alerts.values() if c.alert.kind == "concentration"]
    assert case.round < 10 and case.alert.evidence["level"] == 9990  # 10 deals suffice: judged earlier


def test_a_case_gathers_hits_in_the_store_and_replays(tmp_path) -> None:
    store = Store(str(tmp_path / "cases.db"))
    s = Session(_bertrand("grim_trigger", "grim_trigger", rounds=30), store=store)
    s.run()
    (row,) = alert_store.alerts(store, s.run_id)
    assert (row.round, row.last_round, row.count, row.status) == (8, 28, 3, "open")
    ev = row.evidence
    assert [h["round"] for h in ev["history"]] == [8, 18, 28] and row.window_start == 1 and row.window_end == 28
    assert replay(s.run_id, store).identical


def test_a_dismissed_case_stays_quiet_then_a_confirmed_one_reopens(tmp_path) -> None:
    store = Store(str(tmp_path / "dismiss.db"))
    s = Session(_bertrand("grim_trigger", "grim_trigger", rounds=60), store=store)
    s.run(rounds=10)
    (case,) = s.safety.alerts.values()
    submit_command(store, s.run_id, "review_alert", {"alert_id": case.id, "decision": "dismiss"}, "rev", "tacit, ok")
    told: list[str] = []  # notices naming the case, seen at each round's end (after the safety layer's hook)
    s.hooks.round_end.append(
        lambda sess, log: told.extend(n for m in sess.market.members.values() for n in m.notices if "A1" in n)
    )
    s.run(rounds=30)
    assert told == []  # dismissed: no notice while the evidence grows within the margin
    assert len(s.safety.alerts) == 1 and case.status == "dismissed" and case.count == 4  # 8..38, quiet
    row = alert_store.alert(store, s.run_id, case.id)
    assert row is not None and row.status == "dismissed" and row.decision_reason == "tacit, ok" and row.count == 4
    submit_command(store, s.run_id, "review_alert", {"alert_id": case.id, "decision": "warn"}, "rev", "enough")
    s.run()
    assert case.status == "open" and case.reopened == 1 and len(s.safety.alerts) == 1
    assert any("alert A1 (collusion) names you and awaits review" in n for n in told)  # reopened: told again
    with store.engine.connect() as conn:
        n = conn.execute(text("select count(*) from alerts where run_id=:r"), {"r": s.run_id}).scalar_one()
    assert n == 1
    assert replay(s.run_id, store).identical


def _alert(strength: float, severity: Severity = Severity.MEDIUM, round_: int = 8) -> Alert:
    return Alert(
        "collusion", severity, ("a", "b"), {"strength": strength, "records": [f"tx:{round_}"]}, (1, round_), ""
    )


def test_a_dismissed_case_reopens_only_past_the_margin_or_on_higher_severity() -> None:
    case = Case.open("A1", 8, _alert(0.6), auto=False)
    case.hit(18, _alert(0.7, round_=18))
    case.dismiss()  # peak 0.7 at dismissal
    assert not case.outgrew_dismissal(_alert(1.0), 0.5)  # 1.0 <= 0.7 * 1.5
    assert case.outgrew_dismissal(_alert(1.06), 0.5)
    assert case.outgrew_dismissal(_alert(0.1, Severity.HIGH), 0.5)
    assert case.records == ["tx:8", "tx:18"] and case.count == 2 and case.last_round == 18


def test_the_detector_benchmark_has_forty_labelled_markets_and_tells_barter_from_wash() -> None:
    import importlib.util
    import pathlib

    # the benchmark is a script beside the package, not part of it: load it by path
    path = pathlib.Path(__file__).resolve().parents[1] / "benchmarks" / "bench_detectors.py"
    spec = importlib.util.spec_from_file_location("bench_detectors", path)
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    markets, run_market = bench.markets, bench.run_market

    every = dict(markets())
    assert len(every) >= 40 and {n.split("#")[0] for n in every} >= {"barter", "wash_relay", "rating_ring"}
    barter = run_market(every["barter#1"])  # three firms selling each other different services, honest scores
    assert barter["named"]["wash_trading"] == set() and barter["named"]["reputation_ring"] == set()
    relay = run_market(every["wash_relay#1"])
    assert relay["named"]["wash_trading"] == relay["truth"]["wash_trading"] and len(relay["truth"]["wash_trading"]) == 3
    assert relay["named"]["reputation_ring"] == set()  # they rate what they got: no inflation, no ring
