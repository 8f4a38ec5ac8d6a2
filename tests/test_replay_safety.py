"""Replay of runs where the safety layer acted: breaker trips, alerts and a human review command."""

from __future__ import annotations

from sqlalchemy import text

from sandbox import Session
from sandbox.replay import replay
from sandbox.scenario import parse_scenario
from traces import Store
from traces.control import commands, submit_command


def _hostile() -> dict:
    return {
        "name": "hostile",
        "seed": 5,
        "rounds": 14,
        "population": [
            {"agent": "zi_c", "n": 4, "role": "seller", "service": "svc", "cost": [5, 20], "capacity": 5},
            {"agent": "zi_c", "n": 4, "role": "buyer", "service": "svc", "budget": 200, "value": [30, 60], "demand": 3},
            {"agent": "rt_impersonator", "n": 1, "role": "buyer", "service": "svc", "budget": 50, "value": 30},
            {"agent": "rt_spammer", "n": 1, "role": "buyer", "service": "svc", "budget": 50, "value": 30},
        ],
    }


def test_breaker_trips_replay_identically(tmp_path) -> None:
    store = Store(str(tmp_path / "safety.db"))
    s = Session(parse_scenario(_hostile()), store=store)
    s.run()
    trips = [t for t in s.safety.transitions if t.after.value == "open"]
    assert trips, "the hostile agents should trip a breaker"
    with store.engine.connect() as conn:
        blocked = conn.execute(
            text("select count(*) from actions where run_id=:r and not accepted"), {"r": s.run_id}
        ).scalar_one()
    assert blocked > 0
    report = replay(s.run_id, store)
    assert report.identical, str(report)


def test_human_review_command_replays(tmp_path) -> None:
    store = Store(str(tmp_path / "review.db"))
    s = Session(parse_scenario(_hostile()), store=store)
    s.run(rounds=6)
    assert s.safety.alerts, "the hostile agents should raise alerts by round 6"
    alert_id = next(iter(s.safety.alerts))
    submit_command(
        store, s.run_id, "review_alert", {"alert_id": alert_id, "decision": "suspend"}, author="reviewer", reason="test"
    )
    submit_command(
        store, s.run_id, "review_alert", {"alert_id": "no-such-alert", "decision": "warn"}, author="reviewer"
    )
    s.run()
    outcomes = [c.outcome for c in commands(store, s.run_id)]
    assert outcomes[0].startswith("confirmed") and outcomes[1].startswith("rejected")
    report = replay(s.run_id, store)
    assert report.identical, str(report)

    # The review is part of the record: without it the replay is not the run.
    with store.engine.begin() as conn:
        conn.execute(
            text(
                'update control_commands set payload_json=\'{"alert_id": "x", "decision": "warn"}\' '
                "where run_id=:r and outcome like 'confirmed%'"
            ),
            {"r": s.run_id},
        )
    d = replay(s.run_id, store).divergence
    assert d is not None and d.round == 7 and d.what == "command"
