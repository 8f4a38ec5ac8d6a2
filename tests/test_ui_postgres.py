"""The app's pages against PostgreSQL (the same read API and audit indexes), when a server is given."""

from __future__ import annotations

import os
import pathlib
import uuid

import pytest
from streamlit import config as st_config
from streamlit.testing.v1 import AppTest

from sandbox.scenario import load_scenario
from sandbox.session import Session
from traces import control, read
from traces.store import Store
from ui.pages import PAGES

UI = pathlib.Path(__file__).resolve().parents[1] / "ui"
PG = os.environ.get("AGORA_TEST_PG_URL")

pytestmark = pytest.mark.skipif(not PG, reason="AGORA_TEST_PG_URL is not set (a PostgreSQL URL for tests)")


def test_pages_read_and_write_a_postgresql_store(monkeypatch: pytest.MonkeyPatch) -> None:
    run_id = f"ui-pg-{uuid.uuid4().hex[:8]}"
    session = Session(load_scenario("services"), store=PG, run_id=run_id)
    session.run(rounds=6)
    store = Store(PG)
    monkeypatch.setenv("AGORA_DB", PG)
    st_config.set_option("server.address", "127.0.0.1")
    import streamlit as st

    st.cache_data.clear()
    txs = read.transactions(store, run_id)
    for page in [p.file for p in PAGES]:  # every page of the app, from the one list
        at = AppTest.from_file(str(UI / "views" / f"{page}.py"), default_timeout=60)
        at.session_state["agora.run"] = run_id
        at.session_state["agora.author"] = "pg-paula"
        if txs:
            at.session_state["agora.tx.open"] = txs[0].tx_id
        at.run()
        assert not at.exception, (page, [e.value for e in at.exception])
        if page == "market":
            assert {m.label: m.value for m in at.metric}["Transactions"] == str(
                len([t for t in txs if t.status == "settled"])
            )
        if page == "incentives":
            at.number_input(key=f"policy.{run_id}.1.fee_rate").set_value(0.04)
            at.button[0].click().run()
    [cmd] = control.pending_commands(store, run_id)
    assert cmd.author == "pg-paula"
    session.run(rounds=1)
    assert [c.applied_round for c in control.commands(store, run_id)] == [7]
