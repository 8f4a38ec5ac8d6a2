"""AppTests of the app's deeper paths: a transaction's trace, exact replay and fork (the Alerts
page's case queue is tested in test_ui_alerts.py).
"""

from __future__ import annotations

import json
import pathlib
import time

import pytest
from streamlit import config as st_config
from streamlit.testing.v1 import AppTest

from sandbox.scenario import builtin_names, load_scenario
from sandbox.session import Session
from traces import control, read
from traces.store import Store

UI = pathlib.Path(__file__).resolve().parents[1] / "ui"
RED, BASE = "ui-redteam", "ui-base"


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A finished services run and, when the red-team scenario ships, a paused red-team run."""
    db = str(tmp_path_factory.mktemp("uireview") / "review.db")
    Session(load_scenario("services"), rounds=6, store=db, run_id=BASE).run()
    red = None
    if "redteam" in builtin_names():
        red = Session(load_scenario("redteam"), store=db, run_id=RED)
        red.run(rounds=6)
    return {"db": db, "store": Store(db), "red": red}


@pytest.fixture(autouse=True)
def _app_env(recorded: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGORA_DB", recorded["db"])
    st_config.set_option("server.address", "127.0.0.1")
    import streamlit as st

    st.cache_data.clear()


def page(name: str, run_id: str, **state: object) -> AppTest:
    at = AppTest.from_file(str(UI / "views" / f"{name}.py"), default_timeout=60)
    at.session_state["agora.run"] = run_id
    for k, v in state.items():
        at.session_state[k] = v
    return at.run()


def shown(at: AppTest) -> str:
    kinds = ("title", "subheader", "caption", "text", "info", "success", "error", "warning", "code")
    return "\n".join(str(e.value) for kind in kinds for e in getattr(at, kind))


def test_alerts_page_on_a_run_without_alerts(recorded: dict) -> None:
    at = page("alerts", BASE)
    assert "No alert has been raised in this run." in shown(at)


def test_transaction_trace_shows_the_negotiation_spans(recorded: dict) -> None:
    store = recorded["store"]
    tx = read.transactions(store, BASE)[0]
    at = page("transactions", BASE, **{"agora.tx.open": tx.tx_id})
    assert not at.exception, [e.value for e in at.exception]
    try:
        from traces import trace_read
    except ImportError:
        assert "not installed" in shown(at)
        return
    nodes = trace_read.transaction_trace(store, BASE, tx.tx_id)
    assert nodes, "a traced run links its transactions to spans"
    assert nodes[0].span.name == "session.run"
    scoped = nodes[1:]  # the run-wide root is left out: the deal's own spans set the time scale
    tree = at.dataframe[3].value
    assert [s.strip() for s in tree["span"]] == [n.span.name for n in scoped]
    assert [len(s) - len(s.lstrip()) for s in tree["span"]] == [4 * (n.depth - 1) for n in scoped]
    assert any(v == "accepted" for v in tree["verdict"])
    waterfall = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert list(waterfall["data"][0]["y"]) == list(range(len(scoped)))  # one row per span
    t0 = min(n.span.start_ns for n in scoped)
    assert waterfall["data"][0]["base"][0] == pytest.approx((scoped[0].span.start_ns - t0) / 1e6)


def test_replay_page_replays_exactly_and_starts_a_fork(recorded: dict) -> None:
    store = recorded["store"]
    at = page("replay", BASE, **{"agora.replay.round": 3, "agora.author": "researcher-rui"})
    at.button[0].click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert [s.value for s in at.success] == ["Identical to the record."]
    assert any("identical: 6 rounds of ui-base re-executed and matched" in c.value for c in at.code), shown(at)
    at.text_area(key="agora.fork.policy").input(json.dumps({"fee_rate": 0.1}))
    at.button[1].click().run()
    [cmd] = [c for c in control.commands(store, "*") if c.kind == "start_fork"]
    assert cmd.author == "researcher-rui"
    assert json.loads(cmd.payload_json)["policy"] == {"fee_rate": 0.1}
    deadline = time.monotonic() + 90
    forks = []
    while time.monotonic() < deadline and not forks:
        forks = [r for r in read.runs(store) if r.parent_run_id == BASE and r.status == "finished"]
        time.sleep(0.5)
    assert forks, "the fork started from the page should finish"
    assert forks[0].fork_round == 3


def test_agent_written_text_is_shown_only_as_plain_text(recorded: dict) -> None:
    store = recorded["store"]
    if recorded["red"] is None:
        pytest.skip("the red-team scenario (safety issue) is not installed")
    hostile = [a for a in read.actions(store, RED) if a.action_type == "message" and "SYSTEM" in a.payload]
    assert hostile, "the red-team run records injection attempts"
    target = hostile[0]
    at = page("replay", RED, **{"agora.replay.round": target.round})
    assert target.payload in list(at.dataframe[2].value["payload"])
    text = json.loads(target.payload)["text"]
    rendered = [
        str(e.value)
        for kind in ("markdown", "caption", "subheader", "title", "info", "success", "error")
        for e in getattr(at, kind)
    ]
    assert not any(text in r for r in rendered), "agent text reached a Markdown element"


def test_charts_escape_agent_written_service_names() -> None:
    import pandas as pd

    from ui import charts

    evil = '<a href="javascript:alert(1)">x</a>'
    fig = charts.prices(pd.DataFrame({"round": [1], "service": [evil], "mean_price": [10.0]}), {evil: (9.0, 11.0)})
    assert fig.data[0].name == "&lt;a href=&quot;javascript:alert(1)&quot;&gt;x&lt;/a&gt;"
    assert all("<a" not in t.name for t in fig.data)
