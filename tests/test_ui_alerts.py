"""The Alerts page as a case queue (AppTest) and the SQL read API behind it (traces.alert_queue)."""

from __future__ import annotations

import json
import pathlib

import pytest
from sqlmodel import Session as DbSession
from streamlit import config as st_config
from streamlit.testing.v1 import AppTest

from sandbox.scenario import load_scenario
from sandbox.session import Session
from traces import alert_queue as aq
from traces import alerts as al
from traces import control
from traces.store import Store

UI = pathlib.Path(__file__).resolve().parents[1] / "ui"
RED = "ui-alerts-red"


def _case(run_id: str, n: int, kind: str, agents: list[str], **kw: object) -> al.AlertRow:
    base = {
        "run_id": run_id,
        "alert_id": f"A{n}",
        "round": 1,
        "last_round": 1,
        "count": 1,
        "kind": kind,
        "severity": "medium",
        "agents_json": json.dumps(agents),
        "evidence_json": json.dumps({"records": [f"tx:{n}", f"action:2/{n}"]}),
        "strength": 1.0,
        "window_start": 1,
        "window_end": 1,
        "summary": f"case {n}",
        "status": "open",
        "auto": False,
    }
    return al.AlertRow(**(base | kw))


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A paused red-team run, plus three hand-made cases of one group (x, y colluding in three services)."""
    db = str(tmp_path_factory.mktemp("uialerts") / "alerts.db")
    red = Session(load_scenario("redteam"), store=db, run_id=RED)
    red.run(rounds=8)
    store = Store(db)
    with DbSession(store.engine) as s:
        for i in range(3):
            s.add(_case(RED, 900 + i, "collusion", ["x-seller", "y-seller"], round=2 + i, last_round=5 + i))
        s.commit()
    return {"db": db, "store": store, "red": red}


@pytest.fixture(autouse=True)
def _app_env(recorded: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGORA_DB", recorded["db"])
    st_config.set_option("server.address", "127.0.0.1")
    import streamlit as st

    st.cache_data.clear()


def _page(**state: object) -> AppTest:
    at = AppTest.from_file(str(UI / "views" / "alerts.py"), default_timeout=60)
    at.session_state["agora.run"] = RED
    for k, v in state.items():
        at.session_state[k] = v
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_the_queue_groups_cases_by_kind_and_agents(recorded: dict) -> None:
    store = recorded["store"]
    at = _page()
    open_cases = al.alerts(store, RED, status="open")
    assert {m.label: m.value for m in at.metric}["Open (waiting for review)"] == str(len(open_cases))
    groups = at.dataframe[0].value
    mine = groups[(groups["kind"] == "collusion") & (groups["agents"] == "x-seller, y-seller")]
    assert list(mine["cases"]) == [3] and list(mine["first_round"]) == [2] and list(mine["last_round"]) == [7]
    assert groups["cases"].sum() == len(open_cases)  # the default filter: open cases only
    at.selectbox(key="agora.alert.group").select("collusion · x-seller, y-seller").run()
    assert sorted(at.dataframe[1].value["case"]) == ["A900", "A901", "A902"]


def test_a_filter_narrows_groups_and_cases(recorded: dict) -> None:
    store = recorded["store"]
    at = _page()
    wash = [a for a in al.alerts(store, RED) if a.kind == "wash_trading"]
    assert wash, "the red-team run should have a wash-trading case by round 8"
    at.multiselect(key="agora.alert.statuses").set_value(["open", "confirmed", "dismissed"]).run()
    at.multiselect(key="agora.alert.kinds").set_value(["wash_trading"]).run()
    cases = at.dataframe[1].value
    assert set(cases["kind"]) == {"wash_trading"} and sorted(cases["case"]) == sorted(a.alert_id for a in wash)
    assert set(at.dataframe[0].value["kind"]) == {"wash_trading"}
    agent = wash[0].agents[0]
    at.multiselect(key="agora.alert.kinds").set_value([]).run()
    at.selectbox(key="agora.alert.agent").select(agent).run()
    assert all(agent in a.split(", ") for a in at.dataframe[1].value["agents"])


def test_a_bulk_decision_is_written_as_control_rows_and_applied(recorded: dict) -> None:
    store, red = recorded["store"], recorded["red"]
    real = [a.alert_id for a in al.review_queue(store, RED) if not a.alert_id.startswith("A9")][:2]
    assert len(real) == 2, "the red-team run should leave two cases for review by round 8"
    at = _page(**{"agora.author": "reviewer-rita"})
    at.multiselect(key="agora.alert.chosen").set_value(real)
    at.selectbox(key="agora.review.decision").select("dismiss")
    at.text_input(key="agora.review.reason").input("seen, harmless")
    at.button[-1].click().run()
    assert not at.exception, [e.value for e in at.exception]
    cmds = [c for c in control.pending_commands(store, RED) if c.kind == "review_alert"]
    assert sorted(json.loads(c.payload_json)["alert_id"] for c in cmds) == sorted(real)
    assert {(c.author, c.reason, json.loads(c.payload_json)["decision"]) for c in cmds} == {
        ("reviewer-rita", "seen, harmless", "dismiss")
    }
    from traces.write_log import attempts

    [tried] = [w for w in attempts(store, RED) if w.action == "review_alert"]
    assert (tried.operator, tried.allowed) == ("reviewer-rita", True), "the decision is in the write log"
    assert sorted(json.loads(tried.detail_json)["cases"]) == sorted(real)
    red.run(rounds=1)
    for a in real:
        row = al.alert(store, RED, a)
        assert (row.status, row.decided_by, row.decision_reason) == ("dismissed", "reviewer-rita", "seen, harmless")


def test_a_case_shows_its_evidence_as_links(recorded: dict) -> None:
    at = _page(**{"agora.alert.statuses": ["open", "confirmed", "dismissed"], "agora.alert.group": "(any)"})
    at.selectbox(key="agora.alert.open").select("A900").run()
    (links,) = [d.value for d in at.dataframe if "record" in d.value.columns]
    assert list(links["record"]) == ["tx:900", "action:2/900", "x-seller", "y-seller"]
    assert list(links["open"]) == [
        f"transactions?run={RED}&tx=900",
        f"replay?run={RED}&round=2",
        f"agents?run={RED}&agent=x-seller",
        f"agents?run={RED}&agent=y-seller",
    ]


def test_queue_reads_filter_and_page_in_sql(tmp_path) -> None:
    store = Store(str(tmp_path / "q.db"))
    with DbSession(store.engine) as s:
        for i in range(1, 121):
            s.add(
                _case(
                    "r",
                    i,
                    "wash_trading" if i % 3 else "collusion",
                    [f"a{i % 4}", "a_"],
                    severity=("low", "medium", "high")[i % 3],
                    round=i,
                    last_round=i + 5,
                    status="open" if i % 2 else "dismissed",
                )
            )
        s.commit()
    f = aq.facets(store, "r")
    assert f["total"] == 120 and f["statuses"] == {"open": 60, "dismissed": 60} and f["rounds"] == (1, 125)
    rows, total = aq.page(store, "r", aq.CaseFilter(statuses=("open",)), offset=0, limit=10)
    assert total == 60 and len(rows) == 10 and rows[0]["severity"] == "high"
    assert all(r["last_round"] >= rows[-1]["last_round"] for r in rows if r["severity"] == "high")
    _, n = aq.page(store, "r", aq.CaseFilter(agent="a1"))
    assert n == 30
    _, n = aq.page(store, "r", aq.CaseFilter(agent="a"))  # not a prefix match on 'a1' or a LIKE wildcard
    assert n == 0
    _, n = aq.page(store, "r", aq.CaseFilter(rounds=(10, 20)))  # hits overlapping rounds 10-20: 5..20
    assert n == 16
    groups = aq.groups(store, "r", aq.CaseFilter(kinds=("collusion",)))
    assert sum(g["cases"] for g in groups) == 40 and all(g["kind"] == "collusion" for g in groups)
    ids = aq.case_ids(store, "r", aq.CaseFilter(kinds=("collusion",), statuses=("open",)))
    assert len(ids) == 20


def test_a_refused_decision_is_recorded_and_writes_nothing(recorded: dict) -> None:
    from traces.write_log import attempts

    store = recorded["store"]
    case = next(a.alert_id for a in al.review_queue(store, RED))  # any open case: nothing will be written
    before = len(control.pending_commands(store, RED))
    at = _page()  # no name given in the sidebar
    at.multiselect(key="agora.alert.chosen").set_value([case])
    at.text_input(key="agora.review.reason").input("no name")
    at.button[-1].click().run()
    assert any("name" in e.value for e in at.error), [e.value for e in at.error]
    assert len(control.pending_commands(store, RED)) == before
    refused = [w for w in attempts(store, RED) if w.action == "review_alert" and not w.allowed]
    assert refused and json.loads(refused[-1].detail_json)["cases"] == [case]
