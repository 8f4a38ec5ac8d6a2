"""Replay of runs with LLM agents on the offline stand-in: answered from the record, no network."""

from __future__ import annotations

import json
import socket

import pytest
from sqlalchemy import text

from agents.llm.calls import request_hash
from sandbox import Session
from sandbox.replay import replay
from sandbox.scenario import parse_scenario
from traces import Store


def _scenario(rounds: int = 5) -> dict:
    return {
        "name": "llm-mix",
        "seed": 11,
        "rounds": rounds,
        "market": {"min_price": 1.0, "max_price": 200.0},
        "population": [
            {
                "agent": "llm",
                "n": 2,
                "role": "buyer",
                "service": "translation",
                "budget": 400,
                "value": [60, 160],
                "demand": 2,
                "params": {"model": "scripted/auto", "persona": "bargain_hunter", "wake": "every_round"},
            },
            {
                "agent": "zi_c",
                "n": 2,
                "role": "buyer",
                "service": "translation",
                "budget": 400,
                "value": [40, 160],
                "demand": 2,
            },
            {
                "agent": "llm",
                "n": 2,
                "role": "seller",
                "service": "translation",
                "cost": [20, 80],
                "capacity": 3,
                "params": {"model": "scripted/auto", "wake": "every_round"},
            },
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
        "where run_id=:r and round=3 and event='call' order by agent_id, seq limit 1",
        r=run_id,
    )[0]
    tools = json.loads(
        _sql(
            store,
            "select tools_json from llm_calls where run_id=:r and agent_id=:a and tools_json is not null",
            r=run_id,
            a=agent,
        )[0][0]
    )
    messages = json.loads(msgs)
    messages[0]["content"] = messages[0]["content"].replace("market", "bazaar", 1)
    # As if the run had been made with another prompt: its record holds that prompt and its hash.
    _sql(
        store,
        "update llm_calls set messages_json=:m, request_hash=:h where run_id=:r and agent_id=:a and round=3 and seq=:s",
        m=json.dumps(messages),
        h=request_hash(model, messages, tools, json.loads(params)),
        r=run_id,
        a=agent,
        s=seq,
    )
    report = replay(run_id, store)
    d = report.divergence
    assert d is not None and d.round == 3 and d.what == "llm call" and d.key == f"agent {agent} seq {seq}"
    assert "bazaar" in d.replayed and "market" in d.replayed and "which the record does not hold" in d.replayed
    assert "first difference at messages[0].content: recorded " in d.replayed, d.replayed


def test_changed_response_diverges_in_that_round(llm_run, tmp_path) -> None:
    db, run_id = llm_run
    store = _copy(db, tmp_path)
    rows = _sql(
        store,
        "select agent_id, seq, response_json, round from llm_calls where run_id=:r and event='call' "
        "and response_json like '%price%' order by round, agent_id, seq",
        r=run_id,
    )
    assert rows, "some answer should carry a price"
    target = rows[0]
    body = json.loads(target[2])
    for call in body["choices"][0]["message"].get("tool_calls") or []:
        args = json.loads(call["function"]["arguments"])
        for key in ("price", "ask_price"):
            if key in args:
                args[key] = round(float(args[key]) + 1.37, 2)
        call["function"]["arguments"] = json.dumps(args)
    _sql(
        store,
        "update llm_calls set response_json=:b where run_id=:r and agent_id=:a and round=:k and seq=:s",
        b=json.dumps(body),
        r=run_id,
        a=target[0],
        k=target[3],
        s=target[1],
    )
    d = replay(run_id, store).divergence
    assert d is not None and d.round == target[3] and d.what == "action" and "payload" in d.key, str(d)


def test_fork_after_k_goes_to_the_stand_in_or_live(tmp_path) -> None:
    from agents.llm import ModelServer
    from sandbox import fork

    store = Store(str(tmp_path / "http.db"))
    with ModelServer() as server:
        spec = _scenario(rounds=4)
        for pop in spec["population"]:
            if pop["agent"] == "llm":
                pop["params"] = {
                    **pop["params"],
                    "model": "openai/gpt-4o-mini",
                    "api_base": server.url,
                    "api_key": "stand-in",
                }
        parent = Session(parse_scenario(spec), store=store).run().run_id
        assert server.stats["requests"] > 0
        server.reset_stats()
        offline = fork(parent, 2, {"fee_rate": 0.1}, store=store)
        assert server.stats["requests"] == 0, "rounds up to K come from the record, later ones from the stand-in"
        server.reset_stats()
        live = fork(parent, 2, {"fee_rate": 0.1}, store=store, live=True)
        assert server.stats["requests"] > 0, "--live sends the calls after K to the configured model"

    def models(run_id: str, after: bool) -> set[str]:
        op = ">" if after else "<="
        return {
            m
            for (m,) in _sql(
                store,
                f"select distinct model from llm_calls where run_id=:r and event='call' and round {op} 2",
                r=run_id,
            )
        }

    assert models(offline.run_id, False) == models(live.run_id, False) == {"openai/gpt-4o-mini"}
    assert models(offline.run_id, True) == {"scripted/auto"}
    assert models(live.run_id, True) == {"openai/gpt-4o-mini"}


def test_llm_run_resumes_and_still_replays(tmp_path) -> None:
    from sandbox import resume
    from traces import read

    store = Store(str(tmp_path / "resume.db"))
    s = Session(parse_scenario(_scenario(rounds=5)), store=store)
    s.run(rounds=2)
    result = resume(s.run_id, store)
    assert result.rounds == 5 and read.run(store, s.run_id).status == "finished"
    rounds = {r for (r,) in _sql(store, "select distinct round from llm_calls where run_id=:r", r=s.run_id)}
    assert rounds == {1, 2, 3, 4, 5}, "calls of rounds 1-2 were not written twice, later ones were made"
    dup = _sql(
        store,
        "select count(*) from (select round, agent_id, seq from llm_calls where run_id=:r "
        "group by round, agent_id, seq having count(*) > 1)",
        r=s.run_id,
    )[0][0]
    assert dup == 0
    assert replay(s.run_id, store).identical
