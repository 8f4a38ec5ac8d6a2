"""Replay of runs with LLM agents on the offline stand-in: answered from the record, no network."""

from __future__ import annotations

import json
import socket

import pytest
from sqlalchemy import text

from agents.llm.calls import request_hash
from sandbox import Session, replay
from sandbox.scenario import parse_scenario
from traces import Store


def _scenario(rounds: int = 5) -> dict:
    return {
        "name": "llm-mix",
        "seed": 11,
        "rounds": rounds,
        "market": {"min_price": 1.0, "max_price": 200.0},
        "population": [
            {"agent": "llm", "n": 2, "role": "buyer", "service": "translation", "budget": 400, "value": [60, 160],
             "demand": 2, "params": {"model": "scripted/auto", "persona": "bargain_hunter"}},
            {"agent": "zi_c", "n": 2, "role": "buyer", "service": "translation", "budget": 400, "value": [40, 160], "demand": 2},
            {"agent": "llm", "n": 2, "role": "seller", "service": "translation", "cost": [20, 80], "capacity": 3,
             "params": {"model": "scripted/auto"}},
            {"agent": "zi_c", "n": 2, "role": "seller", "service": "translation", "cost": [20, 120], "capacity": 3},
        ],
    }


@pytest.fixture(scope="module")
def llm_run(tmp_path_factory) -> tuple[str, str]:
    db = str(tmp_path_factory.mktemp("llm") / "llm.db")
    result = Session(parse_scenario(_scenario()), store=db).run()
    return db, result.run_id


def _copy(src: str, tmp_path) -> Store:
    import sqlite3

    dst = str(tmp_path / "copy.db")
    with sqlite3.connect(src) as a, sqlite3.connect(dst) as b:
        a.backup(b)  # the WAL's pages too, which a file copy would miss
    return Store(dst)


def _sql(store: Store, stmt: str, **params) -> list:
    with store.engine.begin() as conn:
        res = conn.execute(text(stmt), params)
        return list(res.all()) if res.returns_rows else []


@pytest.fixture()
def no_network(monkeypatch):
    """Any attempt to open a socket to the network fails the replay loudly."""

    def refuse(*args, **kwargs):
        raise AssertionError("a replay tried to use the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def test_llm_run_replays_identically_from_the_record(llm_run, no_network) -> None:
    db, run_id = llm_run
    store = Store(db)
    calls = _sql(store, "select count(*) from llm_calls where run_id=:r and event='call'", r=run_id)[0][0]
    assert calls >= 10, "the LLM agents should have called their model"
    report = replay(run_id, store)
    assert report.identical, str(report)
    assert report.llm_calls_served == calls


def test_changed_request_is_reported_with_a_diff(llm_run, tmp_path) -> None:
    db, run_id = llm_run
    store = _copy(db, tmp_path)
    agent, seq, model, msgs, params = _sql(
        store,
        "select agent_id, seq, model, messages_json, params_json from llm_calls "
        "where run_id=:r and round=3 and event='call' order by agent_id, seq limit 1", r=run_id,
    )[0]
    tools = json.loads(_sql(store, "select tools_json from llm_calls where run_id=:r and agent_id=:a and tools_json is not null",
                            r=run_id, a=agent)[0][0])
    messages = json.loads(msgs)
    messages[0]["content"] = messages[0]["content"].replace("market", "bazaar", 1)
    # As if the run had been made with another prompt: its record holds that prompt and its hash.
    _sql(store, "update llm_calls set messages_json=:m, request_hash=:h where run_id=:r and agent_id=:a and round=3 and seq=:s",
         m=json.dumps(messages), h=request_hash(model, messages, tools, json.loads(params)), r=run_id, a=agent, s=seq)
    report = replay(run_id, store)
    d = report.divergence
    assert d is not None and d.round == 3 and d.what == "llm call" and d.key == f"agent {agent} seq {seq}"
    assert "bazaar" in d.replayed and "market" in d.replayed and "which the record does not hold" in d.replayed


def test_changed_response_diverges_in_that_round(llm_run, tmp_path) -> None:
    db, run_id = llm_run
    store = _copy(db, tmp_path)
    rows = _sql(store, "select agent_id, seq, response_json, round from llm_calls where run_id=:r and event='call' "
                       "and response_json like '%price%' order by round, agent_id, seq", r=run_id)
    assert rows, "some answer should carry a price"
    target = rows[0]
    body = json.loads(target[2])
    for call in body["choices"][0]["message"].get("tool_calls") or []:
        args = json.loads(call["function"]["arguments"])
        for key in ("price", "ask_price"):
            if key in args:
                args[key] = round(float(args[key]) + 1.37, 2)
        call["function"]["arguments"] = json.dumps(args)
    _sql(store, "update llm_calls set response_json=:b where run_id=:r and agent_id=:a and round=:k and seq=:s",
         b=json.dumps(body), r=run_id, a=target[0], k=target[3], s=target[1])
    d = replay(run_id, store).divergence
    assert d is not None and d.round == target[3] and d.what == "action" and "payload" in d.key, str(d)
