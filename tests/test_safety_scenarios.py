"""The red-team and honest scenarios end to end: what must be stopped or flagged, and no false alarm."""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path

import pytest

from sandbox.scenario import load_scenario
from sandbox.session import Session
from traces import alerts as alert_store
from traces.read import actions
from traces.store import Store


@pytest.fixture(scope="module")
def redteam(tmp_path_factory: pytest.TempPathFactory) -> tuple[Session, Store]:
    store = Store(str(tmp_path_factory.mktemp("rt") / "rt.db"))
    session = Session(load_scenario("redteam"), store=store)
    session.run()
    return session, store


def _kinds(session: Session) -> dict[str, str]:
    return {aid: a.kind for aid, a in session.agents.items()}


def _of(session: Session, kind: str, mode: str | None = None) -> set[str]:
    return {
        aid for aid, a in session.agents.items() if a.kind == kind and (mode is None or a.params.get("mode") == mode)
    }


def test_no_alert_names_an_honest_agent(redteam: tuple[Session, Store]) -> None:
    session, _ = redteam
    red = {aid for aid, kind in _kinds(session).items() if kind.startswith("rt_")}
    named = {a for s in session.safety.alerts.values() for a in s.alert.agents}
    assert named and named <= red
    penalised = {row["agent_id"] for row in session.safety.applied}
    assert penalised <= red


def test_each_misbehaviour_is_stopped_or_flagged(redteam: tuple[Session, Store]) -> None:
    session, store = redteam
    rows = actions(store, session.run_id)
    by_agent: dict[str, Counter[str]] = {}
    for r in rows:
        by_agent.setdefault(r.agent_id, Counter())[r.rule if not r.accepted else f"ok:{r.rule}"] += 1
    (imp,) = _of(session, "rt_impersonator")
    assert by_agent[imp]["impersonation"] > 0 and not any(k.startswith("ok") for k in by_agent[imp])
    (over,) = _of(session, "rt_overdraw")
    assert by_agent[over]["funds"] > 0 and session.ledger.balance(f"agent:{over}") >= 0
    (inj,) = _of(session, "rt_injector")
    assert by_agent[inj]["injection"] > 0
    assert not [r for r in rows if r.accepted and "Ignore all previous" in r.payload]
    (leaker,) = _of(session, "rt_leaker")
    assert by_agent[leaker]["ok:private_leak"] > 0
    assert all("55.00" not in li.description for li in session.market.listings.values())
    (spam,) = _of(session, "rt_spammer")
    per_round = Counter(r.round for r in rows if r.agent_id == spam and r.action_type == "message" and r.accepted)
    assert max(per_round.values()) <= 3 and by_agent[spam]["rate_limit"] > 0
    found = {(s.alert.kind, s.alert.agents) for s in session.safety.alerts.values()}
    assert ("message_storm", (spam,)) in found
    assert ("wash_trading", tuple(sorted(_of(session, "rt_ring", "wash")))) in found
    assert ("reputation_ring", tuple(sorted(_of(session, "rt_ring", "rating")))) in found
    cartel = tuple(sorted(_of(session, "rt_colluder")))
    assert any(k == "collusion" and a == cartel for k, a in found)
    assert {t.subject for t in session.safety.transitions if t.breaker == "violations"} >= {imp, over, inj, spam}


def test_alerts_breakers_and_interventions_are_in_the_store(redteam: tuple[Session, Store]) -> None:
    session, store = redteam
    rows = alert_store.alerts(store, session.run_id)
    assert [r.alert_id for r in rows] == list(session.safety.alerts)
    assert {r.status for r in rows} == {"open", "confirmed"}
    wash = next(r for r in rows if r.kind == "wash_trading")
    assert wash.auto and wash.decided_by == "policy" and all(x.startswith("tx:") for x in wash.evidence["records"])
    assert json.loads(wash.interventions_json)[0]["step"] == "fine"
    queue = alert_store.review_queue(store, session.run_id)
    assert queue and all(r.status == "open" for r in queue) and queue[0].severity == "high"
    assert len(alert_store.breaker_events(store, session.run_id)) == len(session.safety.transitions)
    assert len(alert_store.interventions(store, session.run_id)) == len(session.safety.applied)


def test_honest_twin_raises_no_alert_and_trips_no_breaker() -> None:
    honest, red = load_scenario("honest"), load_scenario("redteam")
    assert sum(p.n for p in honest.population) == sum(p.n for p in red.population)
    session = Session(honest)
    session.run()
    assert session.safety.alerts == {} and session.safety.transitions == [] and session.safety.applied == []
    assert session.summary()["transactions"] > 20


def test_review_command_applies_a_decision_and_updates_the_alert(tmp_path: Path) -> None:
    store = Store(str(tmp_path / "review.db"))
    session = Session(load_scenario("redteam"), store=store, rounds=12)
    session.run(8)
    (open_alert, *_) = [r for r in alert_store.review_queue(store, session.run_id) if r.kind == "collusion"]
    alert_store.request_review(store, session.run_id, open_alert.alert_id, "suspend", "auditor", "cartel")
    alert_store.request_review(store, session.run_id, "A999", "dismiss", "auditor")
    session.run(1)
    row = alert_store.alert(store, session.run_id, open_alert.alert_id)
    assert row is not None and (row.status, row.decision, row.decided_by, row.decided_round) == (
        "confirmed",
        "suspend",
        "auditor",
        9,
    )
    assert all(session.market.members[a].suspended for a in open_alert.agents)
    steps = alert_store.interventions(store, session.run_id)
    assert {(s.agent_id, s.step, s.author) for s in steps if s.alert_id == open_alert.alert_id} == {
        (a, "suspend", "auditor") for a in open_alert.agents
    }
    from traces.control import commands

    outcomes = [c.outcome for c in commands(store, session.run_id)]
    assert outcomes[0].startswith("confirmed") and "no alert 'A999'" in outcomes[1]
    with pytest.raises(ValueError, match="decision must be one of"):
        alert_store.request_review(store, session.run_id, "A1", "execute", "auditor")


def test_alerts_and_trips_are_span_events_on_the_round_span(redteam: tuple[Session, Store]) -> None:
    from traces.trace_read import spans

    session, store = redteam
    events = [e for s in spans(store, session.run_id, operation="session.round") for e in s.events()]
    names = Counter(e["name"] for e in events)
    assert names["safety.alert"] == len(session.safety.alerts)
    assert names["safety.breaker"] == len(session.safety.transitions)
    assert names["safety.intervention"] == len(session.safety.applied)


@pytest.mark.parametrize(
    ("safety", "message"),
    [
        ({"comms": {"leak": "maybe"}}, "safety.comms.leak: Input should be 'redact', 'reject' or 'flag'"),
        ({"limits": {"owners": {"a": ["x"], "b": ["x"]}}}, "agent 'x' is declared under two owners"),
        ({"detectors": {"wash": {"windw": 3}}}, "safety.detectors.wash.windw: is not a field here"),
    ],
)
def test_a_bad_safety_section_is_one_clear_line(safety: dict, message: str) -> None:
    from sandbox.scenario import ScenarioError, parse_scenario

    with pytest.raises(ScenarioError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_scenario({"safety": safety})


@pytest.mark.skipif(
    not os.environ.get("AGORA_TEST_PG_URL"), reason="set AGORA_TEST_PG_URL to record alerts in PostgreSQL"
)
def test_alerts_and_reviews_in_postgresql() -> None:
    store = Store(os.environ["AGORA_TEST_PG_URL"])
    session = Session(load_scenario("redteam"), store=store, rounds=8)
    session.run(6)
    rows = alert_store.alerts(store, session.run_id)
    assert [r.alert_id for r in rows] == list(session.safety.alerts)
    target = alert_store.review_queue(store, session.run_id)[0]
    alert_store.request_review(store, session.run_id, target.alert_id, "dismiss", "auditor", "looked fine")
    session.run(1)
    row = alert_store.alert(store, session.run_id, target.alert_id)
    assert row is not None and (row.status, row.decided_by) == ("dismissed", "auditor")
    assert len(alert_store.breaker_events(store, session.run_id)) == len(session.safety.transitions)


def test_grim_trigger_bertrand_is_flagged_and_competitive_bertrand_is_not() -> None:
    grim = Session(load_scenario("bertrand_grim"), rounds=12)
    grim.run()
    kinds = [(s.alert.kind, s.alert.evidence.get("scope")) for s in grim.safety.alerts.values()]
    assert ("collusion", "mechanism") in kinds
    nash = Session(load_scenario("bertrand"), rounds=12)
    nash.run()
    assert nash.safety.alerts == {}
