"""A fee raised live from the Incentives page lowers the next rounds' trades of incentive-aware agents.

The market is the built-in ZI-C double auction (25-round periods; units refill each period).
Period 1 runs at fee 0; a person raises the fee to 0.4 on the page (the app writes a
``set_policy`` control row); the paused session goes on and applies it at round 26, the first
round of period 2. From that round on, no seller asks below its unit's cost / (1 - 0.4), and
period 2 trades about the competitive quantity of the shifted schedules (9) instead of 14.
"""

from __future__ import annotations

import json
import pathlib

import pytest
from streamlit import config as st_config
from streamlit.testing.v1 import AppTest

from sandbox.metrics import period_frame
from sandbox.scenario import load_scenario
from sandbox.session import Session
from traces import control

UI = pathlib.Path(__file__).resolve().parents[1] / "ui"
RUN = "da-live"


@pytest.fixture
def app_env(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> str:
    db = str(tmp_path / "live.db")
    monkeypatch.setenv("AGORA_DB", db)
    monkeypatch.delenv("AGORA_OPERATOR_TOKEN", raising=False)
    st_config.set_option("server.address", "127.0.0.1")
    import streamlit as st

    st.cache_data.clear()
    return db


def test_fee_raised_on_the_page_lowers_the_next_rounds_trades(app_env: str) -> None:
    scenario = load_scenario("double_auction").model_copy(update={"rounds": 50})
    session = Session(scenario, store=app_env, run_id=RUN, tracing=False)
    asks: list[tuple[int, str, dict]] = []
    session.hooks.round_end.append(
        lambda s, log: asks.extend(
            (log.round, r.agent_id, json.loads(r.payload))
            for r in log.records
            if r.action_type == "place_order" and '"sell"' in r.payload
        )
    )
    session.run(rounds=25)  # period 1 at fee 0; the run is paused, still applying commands

    at = AppTest.from_file(str(UI / "views" / "incentives.py"), default_timeout=60)
    at.session_state["agora.run"] = RUN
    at.session_state["agora.author"] = "policy-pat"
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    at.number_input(key=f"policy.{RUN}.1.fee_rate").set_value(0.4)
    at.text_input(key=f"policy.reason.{RUN}").input("does a fee cut trade?")
    at.button[0].click().run()
    assert not at.exception, [e.value for e in at.exception]
    [cmd] = control.pending_commands(session.recorder.store, RUN)
    assert (cmd.kind, json.loads(cmd.payload_json)) == ("set_policy", {"fee_rate": 0.4})

    session.run(rounds=25)  # period 2: the command applies at round 26
    trades = period_frame(session.summary())["trades"].tolist()
    assert trades[1] < trades[0]
    assert trades[1] == pytest.approx(9, abs=2)  # competitive quantity at c / 0.6 (docs/incentives.md)

    def floor(agent: str, order: dict) -> float:
        schedule = session.market.members[agent].private.schedule[order["service"]]
        return schedule[order["unit"]] / (1 - 0.4)

    before = [(a, o) for r, a, o in asks if r <= 25]
    after = [(a, o) for r, a, o in asks if r > 25]
    assert after and all(o["price"] >= floor(a, o) - 1e-9 for a, o in after)
    assert any(o["price"] < floor(a, o) for a, o in before)  # before the change they did ask below it


def test_incentives_page_shows_the_last_sweeps_measured_effect_next_to_each_field(
    app_env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sandbox.sweep import SweepSpec, run_cell, run_sweep
    from sandbox.sweep import core as sweep

    # the cells run in this process (the worker pool is not what this test is about)
    monkeypatch.setattr(sweep, "_local_map", lambda todo, db, scratch, w: ((c, run_cell(c, db, scratch)) for c in todo))

    spec = SweepSpec(
        name="fees-ui", scenario="services", rounds=40, seeds=[0], grid={"fee_rate": [0.0, 0.3]}, trace=False
    )
    result = run_sweep(spec, load_scenario("services"), store=app_env, workers=1)
    low, high = sorted(result.runs, key=lambda r: r["fee_rate"])
    assert high["transactions"] < low["transactions"]
    live = Session(load_scenario("services"), store=app_env, run_id="svc-live", tracing=False)
    live.run(rounds=1)

    at = AppTest.from_file(str(UI / "views" / "incentives.py"), default_timeout=60)
    at.session_state["agora.run"] = "svc-live"
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    captions = [c.value for c in at.caption]
    assert any("docs/incentives.md" in c for c in captions)
    [line] = [c for c in captions if c.startswith(f"last sweep {result.sweep_id}: fee_rate 0.0 -> 0.3")]
    assert f"transactions {low['transactions']:,.3g} -> {high['transactions']:,.3g}" in line


def test_effect_lines_order_a_mixed_int_and_float_grid_by_value() -> None:
    from ui.data.effects import effect_lines

    runs = [
        ({"fee_rate": 0, "fines.funds": 5.0}, {"transactions": 30, "violations": 0}),
        ({"fee_rate": 0.3, "fines.funds": 5.0}, {"transactions": 20, "violations": 0}),
        ({"fee_rate": 0.05, "fines.funds": 0.5}, {"transactions": 28, "violations": 4}),
    ]
    lines = effect_lines("s1", runs)
    assert lines["fee_rate"] == "last sweep s1: fee_rate 0 -> 0.3: transactions 30 -> 20"
    assert lines["fines"] == "last sweep s1: fines.funds 0.5 -> 5.0: transactions 28 -> 25, violations 4 -> 0"
