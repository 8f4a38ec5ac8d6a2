"""Issue 13's points that no other test asserted end to end (docs/llm_agents.md, "Issue 13 checklist").

Every run is on the in-process stand-in model (not a language model).
"""

from __future__ import annotations

import json
import re
import sqlite3
from typing import Any

from typer.testing import CliRunner

from agents.llm import LLMAgent
from agents.llm.calls import request_hash
from agents.llm.scripted_model import ScriptedStandIn, register_stand_in
from sandbox import Session
from sandbox.cli import app
from sandbox.cli.llm import llm_scenario
from sandbox.replay import replay
from sandbox.scenario import load_scenario, parse_scenario
from traces import Store
from traces import trace_read as read


def _turn_spans(db: str, run_id: str) -> list[Any]:
    return list(read.spans(Store(db), run_id, operation="invoke_agent", limit=None))


def _called_rounds(db: str, run_id: str, agent: str) -> set[int]:
    with sqlite3.connect(db) as con:
        rows = con.execute(
            "select distinct round from llm_calls where run_id=? and agent_id=? and event='call'", (run_id, agent)
        )
        return {r for (r,) in rows}


def test_bertrand_llm_firms_sell_to_the_logit_consumers(tmp_path) -> None:
    """Trading in Bertrand means sales: every LLM firm is paid by the consumers in every round."""
    register_stand_in(ScriptedStandIn())
    base = load_scenario("bertrand")
    db = str(tmp_path / "bertrand.db")
    s = Session(llm_scenario(base, "scripted/auto", {}), rounds=3, store=db)
    run_id = s.run().run_id
    firms = {aid for aid, a in s.agents.items() if a.kind == "llm"}
    assert firms
    with sqlite3.connect(db) as con:
        sales = con.execute(
            "select ref, count(distinct round), sum(amount) from ledger_entries "
            "where run_id=? and kind='sales' group by ref",
            (run_id,),
        ).fetchall()
    assert {ref for ref, _, _ in sales} == firms
    assert all(rounds == 3 and amount > 0 for _, rounds, amount in sales), sales


def test_an_idle_llm_agent_takes_model_turns_only_on_its_heartbeat(tmp_path) -> None:
    """A seller with nothing happening: its first turn, then a turn every 3 rounds; waits cost no token."""
    register_stand_in(ScriptedStandIn())
    db = str(tmp_path / "heartbeat.db")
    s = Session(seed=4, rounds=8, store=db)
    (seller,) = s.spawn(
        LLMAgent, n=1, role="seller", persona="honest_seller", cost=20, capacity=2, wake={"heartbeat": 3}
    )
    result = s.run()
    assert _called_rounds(db, result.run_id, seller) == {1, 4, 7}
    spans = {sp.round: sp.attrs() for sp in _turn_spans(db, result.run_id) if sp.agent_id == seller}
    assert sorted(spans) == list(range(1, 9))
    for r in (1, 4, 7):  # its first turn and its heartbeats (a turn's span records no reason, a wait's does)
        assert spans[r].get("agora.agent.turn") != "wait"
    for r in (2, 3, 5, 6, 8):
        a = spans[r]
        assert a["agora.agent.turn"] == "wait" and a["gen_ai.usage.input_tokens"] == 0
        assert a["agora.agent.turn.reason"] == f"nothing new since round {1 if r < 4 else 4 if r < 7 else 7}"
    assert [h["waits"] for h in result.history] == [0, 1, 1, 0, 1, 1, 0, 1]


def test_a_policy_change_wakes_every_waiting_llm_agent(tmp_path) -> None:
    """A live change of the incentives is an event for every agent: those that were waiting take a turn."""
    register_stand_in(ScriptedStandIn())
    db = str(tmp_path / "policy.db")
    s = Session(llm_scenario(load_scenario("services"), "scripted/auto", {}), rounds=5, store=db)
    s.run(rounds=3)
    s.set_policy(s.policy.with_changes({"fee_rate": 0.2}), author="test", reason="live change")
    s.run(rounds=1)
    spans = _turn_spans(db, s.run_id)
    llm = {aid for aid, a in s.agents.items() if a.kind == "llm"}
    waited_in_3 = {sp.agent_id for sp in spans if sp.round == 3 and sp.attrs().get("agora.agent.turn") == "wait"}
    assert waited_in_3 & llm, "some LLM agents had nothing new in round 3"
    in_4 = {sp.agent_id: sp.attrs() for sp in spans if sp.round == 4 and sp.agent_id in llm}
    assert set(in_4) == llm
    for aid in waited_in_3 & llm:
        a = in_4[aid]
        assert a.get("agora.agent.turn") != "wait", (aid, a)
        assert 4 in _called_rounds(db, s.run_id, aid)


def _one_deal(substeps: int) -> dict:
    llm = {"model": "scripted/auto"}
    return {
        "name": "one-llm-deal",
        "seed": 3,
        "rounds": 6,
        "market": {"min_price": 1.0, "max_price": 200.0, "max_substeps": substeps},
        "population": [
            {
                "agent": "llm",
                "n": 1,
                "role": "buyer",
                "service": "translation",
                "budget": 400,
                "value": 150,
                "demand": 1,
                "params": {**llm, "persona": "bargain_hunter"},
            },
            {
                "agent": "llm",
                "n": 1,
                "role": "seller",
                "service": "translation",
                "cost": 40,
                "capacity": 1,
                "params": {**llm, "persona": "honest_seller"},
            },
        ],
    }


def test_an_llm_deal_completes_in_fewer_rounds_with_substeps(tmp_path) -> None:
    """Post, offer, accept, deliver, report: five rounds with one step each, round 2 with sub-steps."""
    register_stand_in(ScriptedStandIn())
    settled: dict[int, int] = {}
    for substeps in (0, 3):
        db = str(tmp_path / f"sub{substeps}.db")
        result = Session(parse_scenario(_one_deal(substeps)), store=db).run()
        assert result.summary["transactions"] == 1
        settled[substeps] = next(h["round"] for h in result.history if h["transactions"])
        assert replay(result.run_id, Store(db)).identical
    assert settled == {0: 5, 3: 2}


def test_agora_demo_llm_then_agora_replay_from_the_command_line(tmp_path) -> None:
    db = str(tmp_path / "demo.db")
    demo = CliRunner().invoke(app, ["demo", "--llm", "--rounds", "4", "--db", db])
    assert demo.exit_code == 0, demo.output
    run_id = re.search(r"run id (services-llm-[0-9a-f]+)", " ".join(demo.output.split()))
    assert run_id, demo.output
    with sqlite3.connect(db) as con:
        (calls,) = con.execute("select count(*) from llm_calls where event='call'").fetchone()
    assert calls > 0
    rep = CliRunner().invoke(app, ["replay", run_id.group(1), "--db", db])
    assert rep.exit_code == 0, rep.output
    text = " ".join(rep.output.split())
    assert "identical: 4 rounds" in text and f"{calls} LLM calls served from the record" in text, text


def test_a_tampered_record_names_its_first_differing_field(tmp_path) -> None:
    """A record whose request differs only in a sampling parameter: no line of the messages differs,
    and the report still names the field (the empty diff of the issue)."""
    register_stand_in(ScriptedStandIn())
    db = str(tmp_path / "run.db")
    s = Session(seed=5, rounds=3, store=db)
    s.spawn(LLMAgent, n=2, role="buyer", persona="bargain_hunter", budget=200, value=(40, 90), wake="every_round")
    s.spawn(LLMAgent, n=2, role="seller", persona="honest_seller", cost=(10, 40), capacity=3, wake="every_round")
    run_id = s.run().run_id
    tampered = str(tmp_path / "tampered.db")
    with sqlite3.connect(db) as a, sqlite3.connect(tampered) as b:
        a.backup(b)  # the WAL's pages too, which a file copy would miss
    with sqlite3.connect(tampered) as con:
        agent, seq, model, msgs, params_json = con.execute(
            "select agent_id, seq, model, messages_json, params_json from llm_calls "
            "where run_id=? and round=2 and event='call' order by agent_id, seq limit 1",
            (run_id,),
        ).fetchone()
        (tools_json,) = con.execute(
            "select tools_json from llm_calls where run_id=? and agent_id=? and tools_json is not null",
            (run_id, agent),
        ).fetchone()
        params = json.loads(params_json)
        seed = params["seed"]
        params["seed"] = seed + 1
        con.execute(
            "update llm_calls set params_json=?, request_hash=? where run_id=? and agent_id=? and round=2 and seq=?",
            (
                json.dumps(params),
                request_hash(model, json.loads(msgs), json.loads(tools_json), params),
                run_id,
                agent,
                seq,
            ),
        )
    assert replay(run_id, Store(db)).identical, "the untouched record replays identically"
    d = replay(run_id, Store(tampered)).divergence
    assert d is not None and d.round == 2 and d.what == "llm call" and d.key == f"agent {agent} seq {seq}"
    assert f"first difference at params.seed: recorded {seed + 1}, replayed {seed}" in d.replayed, d.replayed


def test_each_agent_sends_a_stable_prefix_shared_up_to_its_constants(tmp_path) -> None:
    """In a real run: the system message is the first message and byte-identical on every call of an
    agent, the tools likewise; agents of one role and persona share it up to their constants."""
    register_stand_in(ScriptedStandIn())
    db = str(tmp_path / "prefix.db")
    s = Session(llm_scenario(load_scenario("services"), "scripted/auto", {}), rounds=5, store=db)
    run_id = s.run().run_id
    with sqlite3.connect(db) as con:
        rows = con.execute(
            "select agent_id, messages_json, tools_sha256 from llm_calls where run_id=? and event='call'", (run_id,)
        ).fetchall()
    system: dict[str, set[str]] = {}
    tools: dict[str, set[str]] = {}
    for agent, msgs, sha in rows:
        first = json.loads(msgs)[0]
        assert first["role"] == "system"
        system.setdefault(agent, set()).add(first["content"])
        tools.setdefault(agent, set()).add(sha)
    several = [a for a in system if sum(1 for r in rows if r[0] == a) > 1]
    assert several, "some agents made more than one call"
    assert all(len(system[a]) == 1 and len(tools[a]) == 1 for a in system), "one system text, one tool list"
    heads: dict[str, set[str]] = {}
    for a, texts in system.items():
        (text,) = texts
        head, tail = text.split("<constants>")
        assert json.loads(tail.split("</constants>")[0])["agent_id"] == a, "what is the agent's own comes last"
        heads.setdefault(s.agents[a].persona.name, set()).add(head)
    shared = [p for p in heads if sum(1 for a in system if s.agents[a].persona.name == p) > 1]
    assert shared, "some persona is played by several agents"
    assert all(len(h) == 1 for h in heads.values()), {p: len(h) for p, h in heads.items()}
