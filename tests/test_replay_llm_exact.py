"""Exact replay of LLM runs: canonical request hashes and replays that report identical.

Every run here is on the in-process stand-in; the replay answers from the record.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from agents.llm.calls import canonical_messages, first_difference, request_hash
from agents.llm.scripted_model import Faults, ScriptedStandIn, register_stand_in
from sandbox import Session, fork
from sandbox.cli.llm import llm_scenario
from sandbox.replay import replay
from sandbox.replay.llm import describe_difference
from sandbox.scenario import load_scenario
from traces import Store
from traces.llm_calls import llm_calls

TOOLS = [{"type": "function", "function": {"name": "accept", "parameters": {"type": "object"}}}]


def _turn(assistant: dict, tool_id: str) -> list[dict]:
    return [
        {"role": "system", "content": "You are agent seller-007, a seller."},
        {"role": "user", "content": "<observation>{}</observation>"},
        assistant,
        {"role": "tool", "tool_call_id": tool_id, "name": "accept", "content": "ACCEPTED"},
        {"role": "user", "content": "try again"},
    ]


def test_request_hash_is_the_same_for_a_live_answer_and_the_recorded_one() -> None:
    live = {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {"id": "call_8f2a", "type": "function", "function": {"name": "accept", "arguments": '{"thread_id": "T8"}'}}
        ],
    }
    # as litellm hands a recorded answer back: None fields dropped, other key order and spacing, another id
    recorded = {
        "tool_calls": [
            {"function": {"arguments": '{"thread_id":"T8"}', "name": "accept"}, "id": "toolu_01X"},
        ],
        "role": "assistant",
    }
    params = {"seed": 5}
    assert request_hash("m", _turn(live, "call_8f2a"), TOOLS, params) == request_hash(
        "m", _turn(recorded, "toolu_01X"), TOOLS, params
    )
    assert canonical_messages([live]) == canonical_messages([{**live, "content": ""}])
    changed = json.loads(json.dumps(live))
    changed["tool_calls"][0]["function"]["arguments"] = '{"thread_id": "T9"}'
    assert request_hash("m", _turn(changed, "call_8f2a"), TOOLS, params) != request_hash(
        "m", _turn(live, "call_8f2a"), TOOLS, params
    )
    # arguments that are not JSON are kept byte for byte: they are what the model saw
    broken = json.loads(json.dumps(live))
    broken["tool_calls"][0]["function"]["arguments"] = '{"thread_id": "T8"'
    assert canonical_messages([broken])[0]["tool_calls"][0]["function"]["arguments"] == '{"thread_id": "T8"'


def test_first_difference_names_the_path_and_both_values() -> None:
    a = {"messages": [{"role": "user", "content": "hi"}, {"role": "tool", "content": "ok"}], "model": "m"}
    b = {"messages": [{"role": "user", "content": "hi"}, {"role": "tool", "content": "no"}], "model": "m"}
    assert first_difference(a, b) == ("messages[1].content", "ok", "no")
    assert first_difference(a, {**a, "params": {}}) == ("params", "<missing>", {})
    assert first_difference(a, {**a, "messages": a["messages"][:1]}) == ("messages[1]", a["messages"][1], "<missing>")
    assert first_difference(a, json.loads(json.dumps(a))) is None
    view = {"model": "m", "params": {"seed": 1}, "tools_sha256": "x", "messages": a["messages"]}
    text = describe_difference(view, {**view, "params": {"seed": 2}})
    assert text.startswith("first difference at params.seed: recorded 1, replayed 2")


def test_demo_llm_replays_identically(tmp_path) -> None:
    db = str(tmp_path / "demo.db")
    s = Session(llm_scenario(load_scenario("services"), "scripted/auto", {"max_in_flight": 64}), rounds=4, store=db)
    run_id = s.run().run_id
    rows = [r for r in llm_calls(Store(db), run_id) if r["event"] == "call"]
    repairs = [r for r in rows if r["attempt"] > 1]
    assert repairs, "the demo's repair turns carry the previous answer: the case that used to diverge"
    report = replay(run_id, Store(db))
    assert report.identical, str(report)
    assert report.llm_calls_served == len(rows)


@pytest.fixture()
def faulty_stand_in() -> Iterator[ScriptedStandIn]:
    handler = register_stand_in(ScriptedStandIn(Faults(malformed=0.15, refusal=0.1, empty=0.05, invalid=0.2, seed=4)))
    yield handler
    register_stand_in(ScriptedStandIn())


def _small(store: str, rounds: int = 4, **kw) -> Session:
    from agents.llm import LLMAgent

    s = Session(seed=5, rounds=rounds, store=store)
    kw.setdefault("wake", "every_round")  # a model turn every round, so faults and budgets see enough calls
    s.spawn(LLMAgent, n=4, role="buyer", persona="bargain_hunter", budget=200, value=(40, 90), demand=2, **kw)
    s.spawn(LLMAgent, n=3, role="seller", persona="honest_seller", cost=(10, 40), capacity=3, **kw)
    return s


def test_run_with_faults_injected_replays_identically(tmp_path, faulty_stand_in) -> None:
    db = str(tmp_path / "faults.db")
    run_id = _small(db).run().run_id
    faults = {r["fault"] for r in llm_calls(Store(db), run_id)}
    assert {"malformed", "refusal", "invalid"} <= faults, faults
    register_stand_in(ScriptedStandIn())  # the replay must not need the faulty model: it reads the record
    report = replay(run_id, Store(db))
    assert report.identical, str(report)


def test_two_identical_runs_on_one_faulty_handler_draw_the_same_faults(tmp_path, faulty_stand_in) -> None:
    """The stand-in draws a fault from the request and its retry number, not from what it saw before."""

    def faults_of(db: str) -> list[tuple]:
        run_id = _small(db).run().run_id
        rows = llm_calls(Store(db), run_id)
        return [(r["round"], r["agent_id"], r["seq"], r["event"], r["fault"], r["request_hash"]) for r in rows]

    first, second = faults_of(str(tmp_path / "one.db")), faults_of(str(tmp_path / "two.db"))
    assert any(f[4] for f in first), "the handler injects faults"
    assert first == second


def test_fork_of_an_llm_run_replays_its_parent_and_then_replays_itself(tmp_path) -> None:
    register_stand_in(ScriptedStandIn())
    db = str(tmp_path / "fork.db")
    s = Session(llm_scenario(load_scenario("services"), "scripted/auto", {}), rounds=4, store=db)
    parent = s.run().run_id
    child = fork(parent, 2, {"fee_rate": 0.05}, store=db)
    assert child.result.rounds == 4
    report = replay(child.run_id, Store(db))
    assert report.identical, str(report)


def test_run_that_spends_its_session_budget_replays_identically(tmp_path) -> None:
    register_stand_in(ScriptedStandIn())
    db = str(tmp_path / "budget.db")
    run_id = _small(db, rounds=4, session_token_budget=12000).run().run_id
    rows = list(llm_calls(Store(db), run_id))
    assert any(r["event"] == "budget" for r in rows) and any(r["event"] == "call" for r in rows)
    report = replay(run_id, Store(db))
    assert report.identical, str(report)


def test_run_with_transport_faults_over_http_replays_identically(tmp_path) -> None:
    from agents.llm import ModelServer, ServerFaults

    db = str(tmp_path / "http.db")
    faults = ServerFaults(rate_429=0.2, rate_500=0.1, malformed=0.1, invalid=0.2, seed=2)
    with ModelServer(faults) as server:
        kw = {"model": "openai/gpt-4o-mini", "api_base": server.url, "api_key": "stand-in", "backoff": 0.01}
        run_id = _small(db, rounds=3, **kw).run().run_id
    rows = list(llm_calls(Store(db), run_id))
    assert {"rate_limited", "server_error"} & {r["fault"] for r in rows}, "some calls were retried"
    report = replay(run_id, Store(db))  # the server is gone: every answer and fault comes from the record
    assert report.identical, str(report)
    assert report.llm_calls_served == sum(1 for r in rows if r["event"] == "call")
