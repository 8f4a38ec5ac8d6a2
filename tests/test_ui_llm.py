"""AppTests of the app on a run of LLM agents (the offline scripted stand-in model, named as such):
each model call's prompt, completion, tokens and latency reach the Agents and Transactions pages.
"""

from __future__ import annotations

import json
import pathlib

import pytest
from streamlit import config as st_config
from streamlit.testing.v1 import AppTest

from sandbox.scenario import load_scenario
from sandbox.session import Session
from traces import read
from traces.llm_calls import llm_calls
from traces.store import Store

UI = pathlib.Path(__file__).resolve().parents[1] / "ui"
RUN = "ui-llm"


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A small services market played by LLM agents on the scripted stand-in model."""
    cli_llm = pytest.importorskip("sandbox.cli.llm", reason="the LLM-agent issue's demo is not installed")
    db = str(tmp_path_factory.mktemp("uillm") / "llm.db")
    scenario = cli_llm.llm_scenario(load_scenario("services"), "scripted/auto", {})
    buyer = next(s for s in scenario.population if s.role == "buyer" and s.service == "translation")
    seller = next(s for s in scenario.population if s.role == "seller" and s.service == "translation")
    buyer.n, seller.n = 2, 1
    scenario.population = [buyer, seller]
    Session(scenario, rounds=6, store=db, run_id=RUN).run()
    store = Store(db)
    return {"db": db, "store": store, "calls": list(llm_calls(store, RUN))}


@pytest.fixture(autouse=True)
def _app_env(recorded: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGORA_DB", recorded["db"])
    st_config.set_option("server.address", "127.0.0.1")
    import streamlit as st

    st.cache_data.clear()


def page(name: str, **state: object) -> AppTest:
    at = AppTest.from_file(str(UI / "views" / f"{name}.py"), default_timeout=60)
    at.session_state["agora.run"] = RUN
    for k, v in state.items():
        at.session_state[k] = v
    return at.run()


def test_agents_page_shows_each_model_call(recorded: dict) -> None:
    calls = [c for c in recorded["calls"] if c["event"] == "call"]
    assert calls, "LLM agents on the stand-in model make calls"
    agent = calls[0]["agent_id"]
    mine = [c for c in recorded["calls"] if c["agent_id"] == agent]
    at = page("agent_story", **{"agora.agent": agent})
    assert not at.exception, [e.value for e in at.exception]
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["LLM calls"] == str(len(mine))
    tokens_in = sum(c["prompt_tokens"] for c in mine)
    tokens_out = sum(c["completion_tokens"] for c in mine)
    assert metrics["Tokens in / out"] == f"{tokens_in} / {tokens_out}"
    table = at.dataframe[-1].value
    assert list(table["latency_ms"]) == [c["latency_ms"] for c in mine][:100]
    assert "prompt" not in table  # prompt and completion are shown below, message by message
    code = [c.value for c in at.code]
    prompt = json.loads(mine[0]["messages_json"])
    assert [m["content"] for m in prompt if m["content"]] == [c for c in code if c in {m["content"] for m in prompt}]
    text = [t.value for t in at.text]
    roles = [t for t in text if t.split(" ")[0] in ("SYSTEM", "USER", "ASSISTANT", "TOOL")]
    assert roles[: len(prompt) + 1] == [m["role"].upper() for m in prompt] + ["ASSISTANT (the model's reply)"]


def test_transactions_page_shows_the_calls_behind_a_deal(recorded: dict) -> None:
    store = recorded["store"]
    deals = read.transactions(store, RUN)
    if not deals:
        pytest.skip("the stand-in LLM agents made no deal in 6 rounds of this small market")
    tx = deals[0]
    rounds = {a.round for a in read.actions(store, RUN) if a.thread_id == tx.thread_id}
    behind = [c for c in recorded["calls"] if c["agent_id"] in (tx.buyer, tx.seller) and c["round"] in rounds]
    at = page("transactions", **{"agora.tx.open": tx.tx_id})
    assert not at.exception, [e.value for e in at.exception]
    table = at.dataframe[-1].value
    assert len(table) == len(behind) > 0
    assert set(table["agent"]) <= {tx.buyer, tx.seller}
