"""One Streamlit AppTest per page of the app, against a store written by real runs.

The store holds a finished services run and a paused one (2 of 40 rounds) that a
``Session`` continues during the Incentives test, so a policy written from the page is
seen applied at the session's next round.
"""

from __future__ import annotations

import json
import pathlib
import time

import pytest
from sqlmodel import Session as DbSession
from sqlmodel import select
from streamlit import config as st_config
from streamlit.testing.v1 import AppTest

from sandbox.scenario import load_scenario
from sandbox.session import Session
from traces import audit, control, read
from traces.store import Store

UI = pathlib.Path(__file__).resolve().parents[1] / "ui"
FINISHED, LIVE = "ui-finished", "ui-live"


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Two real runs of the services market in one SQLite file."""
    db = str(tmp_path_factory.mktemp("ui") / "ui.db")
    finished = Session(load_scenario("services"), rounds=6, store=db, run_id=FINISHED)
    finished.run()
    live = Session(load_scenario("services"), store=db, run_id=LIVE)
    live.run(rounds=2)  # status "paused": still applies commands when it goes on
    return {"db": db, "store": Store(db), "live": live, "finished": finished}


@pytest.fixture(autouse=True)
def _app_env(recorded: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGORA_DB", recorded["db"])
    monkeypatch.delenv("AGORA_OPERATOR_TOKEN", raising=False)
    st_config.set_option("server.address", "127.0.0.1")
    import streamlit as st

    st.cache_data.clear()


def page(name: str, run_id: str = FINISHED, **state: object) -> AppTest:
    """Run one page file with the run chosen (and any other session state)."""
    at = AppTest.from_file(str(UI / "views" / f"{name}.py"), default_timeout=60)
    at.session_state["agora.run"] = run_id
    for k, v in state.items():
        at.session_state[k] = v
    return at.run()


def texts(at: AppTest) -> str:
    """Everything the page wrote as text, captions, titles and messages, joined."""
    parts = [
        e.value
        for kind in ("title", "subheader", "caption", "text", "info", "success", "error", "warning", "code")
        for e in getattr(at, kind)
    ]
    return "\n".join(str(p) for p in parts)


def no_exception(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def test_runs_page_lists_every_run_with_its_totals(recorded: dict) -> None:
    at = page("runs")
    no_exception(at)
    df = at.dataframe[0].value
    rows = {r["run"]: r for r in df.to_dict("records")}
    assert set(rows) >= {FINISHED, LIVE}
    store = recorded["store"]
    fin = read.run(store, FINISHED)
    assert rows[FINISHED]["status"] == "finished" and rows[LIVE]["status"] in ("paused", "finished")
    assert rows[FINISHED]["rounds"] == "6/6" and rows[FINISHED]["agents"] == fin.n_agents == 46
    n_tx = sum(r.n_tx for r in read.rounds(store, FINISHED))
    assert rows[FINISHED]["transactions"] == n_tx > 0
    assert rows[FINISHED]["efficiency"] == pytest.approx(read.rounds(store, FINISHED)[-1].efficiency)


def test_runs_page_refuses_to_start_a_run_without_a_name(recorded: dict) -> None:
    at = page("runs")
    at.button[0].click().run()
    assert "Enter your name" in texts(at)
    assert not control.commands(recorded["store"], "*")


def test_runs_page_starts_a_demo_run_and_records_who(recorded: dict) -> None:
    store = recorded["store"]
    before = {r.id for r in read.runs(store)}
    at = page("runs", **{"agora.author": "operator-olga"})
    at.number_input[0].set_value(3)
    at.button[0].click().run()
    assert "Started the services demo" in texts(at)
    [cmd] = control.commands(store, "*")
    assert (cmd.kind, cmd.author) == ("start_demo", "operator-olga")
    assert json.loads(cmd.payload_json)["rounds"] == 3
    deadline = time.monotonic() + 90
    new: list = []
    while time.monotonic() < deadline and not new:
        new = [r for r in read.runs(store) if r.id not in before and r.status == "finished"]
        time.sleep(0.5)
    assert new and new[0].rounds_done == 3, "the demo started from the page should finish its 3 rounds"


def test_market_page_shows_round_metrics_charts_and_network(recorded: dict) -> None:
    at = page("market")
    no_exception(at)
    metrics = {m.label: m.value for m in at.metric}
    rounds = read.rounds(recorded["store"], FINISHED)
    assert metrics["Rounds"] == "6"
    assert metrics["Transactions"] == str(sum(r.n_tx for r in rounds))
    assert metrics["Efficiency"] == f"{rounds[-1].efficiency:.1%}"
    charts = at.get("plotly_chart")
    more = at.multiselect[0].value if at.multiselect else []
    # prices, volume, efficiency, HHI, fees and fines, the chosen extra metrics, the network
    assert len(charts) == 6 + (1 if more else 0)
    if more:
        extra = json.loads(charts[5].proto.spec)
        assert [t["name"] for t in extra["data"]] == more
    prices = json.loads(charts[0].proto.spec)
    lines = [t for t in prices["data"] if not t["name"].endswith("competitive")]
    assert {t["name"] for t in lines} == {"translation", "summarization"}
    assert not prices["layout"].get("shapes")  # no band tints the whole chart
    from ui import data as ui_data

    for service, (low, high) in ui_data.benchmarks(FINISHED).items():
        bands = [t for t in prices["data"] if t["name"] == f"{service} competitive"]
        assert bands and {tuple(t["y"]) for t in bands} <= {(low, low), (high, high)}  # lines at the band's edges
    rows = audit.prices_by_round(recorded["store"], FINISHED)
    every = range(min(r for r, *_ in rows), max(r for r, *_ in rows) + 1)
    for t in lines:
        traded = {r for r, sv, *_ in rows if sv == t["name"]}
        assert list(t["x"]) == list(every)  # every round on the axis ...
        assert [y is None for y in t["y"]] == [r not in traded for r in every]  # ... a gap where no deal
    network = json.loads(charts[-1].proto.spec)
    nodes = [t for t in network["data"] if t.get("mode") == "markers+text"]
    assert {t["name"] for t in nodes} == {"buyer", "seller"}  # coloured by role, labelled by id
    assert all(n.startswith("buyer") for n in next(t for t in nodes if t["name"] == "buyer")["text"])
    pairs = at.dataframe[0].value
    top = audit.trade_pairs(recorded["store"], FINISHED)[0]
    assert (pairs.iloc[0]["buyer"], pairs.iloc[0]["seller"]) == top[:2]


def test_extra_metrics_of_different_scales_get_their_own_axes() -> None:
    import pandas as pd

    from ui import charts

    df = pd.DataFrame({"round": [1, 2, 3], "messages": [0.0, 12.0, 30.0], "collusion_index": [0.1, 0.5, 0.9]})
    fig = charts.facets(df, ["messages", "collusion_index"], "t").to_plotly_json()
    assert [t["yaxis"] for t in fig["data"]] == ["y", "y2"]  # one panel, one y axis per series
    band = charts.prices(
        pd.DataFrame({"round": [1], "service": ["x"], "deals": [1], "mean_price": [5.0]}), {"x": (4.0, 4.0)}
    )
    drawn = [t for t in band.to_plotly_json()["data"] if t["name"] == "x competitive"]
    assert len(drawn) == 1 and list(drawn[0]["y"]) == [4.0, 4.0]  # a zero-width band is one line, not a strip


def test_transactions_page_filters_pages_and_opens_the_thread(recorded: dict) -> None:
    store = recorded["store"]
    every = read.transactions(store, FINISHED)
    at = page("transactions", **{"agora.tx.page_size": 25})
    no_exception(at)
    assert f"{len(every)} transactions match" in texts(at)
    assert list(at.dataframe[0].value["tx"]) == [t.tx_id for t in every[:25]]
    seller = every[0].seller
    at.text_input[0].input(seller).run()
    mine = [t for t in every if seller in (t.buyer, t.seller)]
    assert f"{len(mine)} transactions match" in texts(at)
    at.query_params["tx"] = str(mine[0].tx_id)  # a deep link (a row click sets the same state)
    at.run()
    no_exception(at)
    shown = texts(at)
    assert (
        f"Transaction #{mine[0].tx_id}" in shown
        and f"{mine[0].buyer} bought {mine[0].service} from {mine[0].seller}" in shown
    )
    thread = at.dataframe[2].value
    assert at.query_params["tx"] == str(mine[0].tx_id)  # the URL carries the open deal
    assert set(thread["thread"]) == {mine[0].thread_id}
    assert "accept" in list(thread["action"])
    assert all(isinstance(p, str) for p in thread["payload"])  # agent text stays a plain string cell


def test_agents_page_tells_one_agents_story(recorded: dict) -> None:
    store = recorded["store"]
    rejected = [a for a in read.actions(store, FINISHED, accepted=False)]
    agent = rejected[0].agent_id if rejected else read.transactions(store, FINISHED)[0].seller
    at = page("agent_story", **{"agora.agent": agent})
    no_exception(at)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Deals"] == str(len(read.transactions(store, FINISHED, agent=agent)))
    balance = audit.balances_at(store, FINISHED, 6)[f"agent:{agent}"]
    assert metrics["Balance"] == f"{balance / 1e6:.2f}"
    if rejected:
        viol = at.dataframe[1].value
        assert rejected[0].rule in list(viol["rule"])
        assert metrics["Violations"] == str(sum(1 for a in rejected if a.agent_id == agent))
    assert at.get("plotly_chart")


def test_agents_page_reputation_matches_the_market(recorded: dict) -> None:
    market = recorded["finished"].market
    rated = [m for m in market.members.values() if m.role == "seller" and m.reputation is not None]
    assert rated, "sellers with outcome reports in six rounds"
    seller = rated[0]
    at = page("agent_story", **{"agora.agent": seller.id})
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Reputation"] == f"{seller.reputation:.3f}"
    assert metrics["Breaker"] == "closed"


def test_incentives_page_writes_a_policy_the_session_applies_next_round(recorded: dict) -> None:
    store, live = recorded["store"], recorded["live"]
    assert live.round == 2
    at = page("incentives", LIVE)
    no_exception(at)
    assert "Policy in force (version 1)" in texts(at)
    at.number_input(key=f"policy.{LIVE}.1.fee_rate").set_value(0.05)
    at.text_input(key=f"policy.reason.{LIVE}").input("test a higher fee")
    at.button[0].click().run()  # no name yet: refused, nothing written
    assert "Enter your name" in texts(at)
    assert not control.pending_commands(store, LIVE)
    at.sidebar.text_input(key="agora.author").input("auditor-ann").run()
    at.button[0].click().run()
    no_exception(at)
    [cmd] = control.pending_commands(store, LIVE)
    assert (cmd.kind, json.loads(cmd.payload_json), cmd.author, cmd.reason) == (
        "set_policy",
        {"fee_rate": 0.05},
        "auditor-ann",
        "test a higher fee",
    )
    assert cmd.created_at > 0
    live.run(rounds=1)  # the session's next round picks the command up
    [applied] = [c for c in control.commands(store, LIVE) if c.id == cmd.id]
    assert (applied.applied_round, applied.outcome) == (3, "applied")
    versions = audit.policy_versions(store, LIVE)
    assert (versions[-1].round, versions[-1].author) == (3, "auditor-ann")
    assert json.loads(versions[-1].policy_json)["fee_rate"] == 0.05
    at = page("incentives", LIVE)
    history = at.dataframe[-2].value if len(at.dataframe) > 1 else at.dataframe[0].value
    assert "fee_rate: 0.02 -> 0.05" in list(history["changes"])
    assert "Policy in force (version 2)" in texts(at)


def test_incentives_page_rejects_an_invalid_policy(recorded: dict) -> None:
    at = page("incentives", LIVE, **{"agora.author": "auditor-ann"})
    version = len(audit.policy_versions(recorded["store"], LIVE))
    at.text_area(key=f"policy.{LIVE}.{version}.fines").input('{"no_such_rule": 1}')
    at.button[0].click().run()
    assert "unknown rule 'no_such_rule'" in texts(at)
    assert not control.pending_commands(recorded["store"], LIVE)


def test_writes_need_the_operator_token_off_loopback(recorded: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    st_config.set_option("server.address", "0.0.0.0")
    monkeypatch.setenv("AGORA_OPERATOR_TOKEN", "s3cret")
    at = page("incentives", LIVE, **{"agora.author": "mallory", "agora.token": "guess"})
    version = len(audit.policy_versions(recorded["store"], LIVE))
    at.number_input(key=f"policy.{LIVE}.{version}.fee_rate").set_value(0.5)
    at.button[0].click().run()
    assert "operator token" in texts(at)
    assert not control.pending_commands(recorded["store"], LIVE)


def test_replay_page_scrubs_to_a_round(recorded: dict) -> None:
    store = recorded["store"]
    at = page("replay", **{"agora.replay.round": 5})
    no_exception(at)
    r5 = read.rounds(store, FINISHED)[4]
    metrics = {m.label: m.value for m in at.metric}
    assert (metrics["Actions"], metrics["Transactions"]) == (str(r5.n_actions), str(r5.n_tx))
    frames = [d.value for d in at.dataframe]
    balances, deals, actions = frames[0], frames[1], frames[2]
    expected = audit.balances_at(store, FINISHED, 5)
    assert dict(zip(balances["account"], balances["balance"], strict=True)) == {
        k: v / 1e6 for k, v in expected.items() if k != "external"
    }
    assert len(actions) == r5.n_actions and set(actions["round"]) == {5}
    assert len(deals) == len(audit.deals_settled_in(store, FINISHED, 5))
    assert "Policy in force at round 5: version 1" in texts(at)


def test_app_navigates_to_every_page(recorded: dict) -> None:
    at = AppTest.from_file(str(UI / "app.py"), default_timeout=60).run()
    no_exception(at)
    from ui.pages import PAGES

    assert at.title[0].value == PAGES[0].title == "Runs"
    for p in PAGES[1:]:
        at.switch_page(f"views/{p.file}.py").run()
        no_exception(at)
        assert at.title[0].value == p.title


def test_every_command_records_author_and_time(recorded: dict) -> None:
    with DbSession(recorded["store"].engine) as s:
        rows = s.exec(select(control.ControlRow)).all()
    assert all(r.author.strip() and r.created_at > 0 for r in rows)


def test_guard_decides_writes_by_binding_and_token() -> None:
    from ui.guard import write_refusal

    assert write_refusal("127.0.0.1", "ann", None, None) is None
    assert "your name" in write_refusal("127.0.0.1", "  ", None, None)
    assert "writes are off" in write_refusal(None, "ann", "x", None)  # unset address: every interface
    assert "operator token" in write_refusal("0.0.0.0", "ann", "wrong", "s3cret")
    assert write_refusal("0.0.0.0", "ann", "s3cret", "s3cret") is None


def test_off_loopback_write_with_the_right_token_is_recorded(recorded: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    st_config.set_option("server.address", "0.0.0.0")
    monkeypatch.setenv("AGORA_OPERATOR_TOKEN", "s3cret")
    store = recorded["store"]
    version = len(audit.policy_versions(store, LIVE))
    at = page("incentives", LIVE, **{"agora.author": "remote-rob", "agora.token": "s3cret"})
    at.number_input(key=f"policy.{LIVE}.{version}.fee_rate").set_value(0.03)
    at.button[0].click().run()
    [cmd] = control.pending_commands(store, LIVE)
    assert (cmd.author, json.loads(cmd.payload_json)) == ("remote-rob", {"fee_rate": 0.03})
    recorded["live"].run(rounds=1)  # apply it, so later tests start with nothing pending
    assert not control.pending_commands(store, LIVE)


def test_agora_ui_serves_the_installed_app_on_loopback(recorded: dict) -> None:
    from typer.testing import CliRunner

    from sandbox.cli import app
    from sandbox.cli.ui import app_file, streamlit_command

    assert app_file() == UI / "app.py"
    cmd, env = streamlit_command(recorded["db"], "127.0.0.1", 8599)
    assert cmd[cmd.index("--server.address") + 1] == "127.0.0.1" and cmd[cmd.index("--server.port") + 1] == "8599"
    assert env["AGORA_DB"] == recorded["db"]
    assert cmd[cmd.index("--client.toolbarMode") + 1] == "minimal"  # no Deploy button
    bad = CliRunner().invoke(app, ["ui", "--db", "nosuchdriver://x"])
    assert bad.exit_code == 2 and "is not a database URL Agora can use" in bad.output


def test_transactions_page_keeps_the_open_deal_while_paging(recorded: dict) -> None:
    every = read.transactions(recorded["store"], FINISHED)
    assert len(every) > 10
    at = page("transactions", **{"agora.tx.page_size": 10, "agora.tx.open": every[0].tx_id})
    assert f"Transaction #{every[0].tx_id}" in texts(at)
    at.number_input(key="agora.tx.page").set_value(2).run()
    no_exception(at)
    assert list(at.dataframe[0].value["tx"]) == [t.tx_id for t in every[10:20]]
    assert f"Transaction #{every[0].tx_id}" in texts(at)  # the deal the URL names stays open
    at.text_input[0].input(every[-1].buyer).run()  # a narrow filter: one page left
    no_exception(at)
    assert "Page (of 1)" in [n.label for n in at.number_input]
