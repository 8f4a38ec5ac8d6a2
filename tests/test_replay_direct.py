"""A replay runs LLM turns without LangGraph (``agents.llm.graph.run_direct``) and stays exact.

The same recorded run replays identically through ``run_direct`` and through the LangGraph
graph; faults injected in the run (malformed arguments, refusals, empty answers, rejected
actions) make the nudge and repair paths of the turn run in both.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any

import pytest

from agents.llm import LLMAgent
from agents.llm import graph as turn
from agents.llm.scripted_model import Faults, ScriptedStandIn, register_stand_in
from sandbox import Session
from sandbox.replay import replay
from traces import Store
from traces.llm_calls import llm_calls


@pytest.fixture()
def faulty_stand_in() -> Iterator[ScriptedStandIn]:
    handler = register_stand_in(ScriptedStandIn(Faults(malformed=0.15, refusal=0.1, empty=0.05, invalid=0.2, seed=9)))
    yield handler
    register_stand_in(ScriptedStandIn())


def _record(db: str, max_repairs: int = 2) -> str:
    s = Session(seed=11, rounds=4, store=db)
    kw: dict[str, Any] = {"wake": "every_round", "max_repairs": max_repairs}
    s.spawn(LLMAgent, n=4, role="buyer", persona="bargain_hunter", budget=200, value=(40, 90), demand=2, **kw)
    s.spawn(LLMAgent, n=3, role="seller", persona="honest_seller", cost=(10, 40), capacity=3, **kw)
    return s.run().run_id


def _counting(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    used: list[int] = []
    direct = turn.run_direct

    async def counted(ctx: turn.TurnContext) -> dict[str, Any]:
        used.append(1)
        return await direct(ctx)

    monkeypatch.setattr(turn, "run_direct", counted)
    return used


def test_replay_runs_turns_directly_and_the_graph_gives_the_same_replay(tmp_path, faulty_stand_in, monkeypatch) -> None:
    db = str(tmp_path / "direct.db")
    run_id = _record(db)
    rows = list(llm_calls(Store(db), run_id))
    faults = {r["fault"] for r in rows}
    assert {"malformed", "invalid"} <= faults and ({"refusal", "empty"} & faults), faults
    assert any(r["attempt"] > 1 for r in rows), "repair turns must be in the record"
    register_stand_in(ScriptedStandIn())  # the replay reads the record, never the faulty model

    used = _counting(monkeypatch)
    report = replay(run_id, Store(db))
    assert report.identical, str(report)
    assert report.llm_calls_served == sum(1 for r in rows if r["event"] == "call")
    assert len(used) >= len({(r["round"], r["agent_id"]) for r in rows if r["event"] == "call"})

    used.clear()
    monkeypatch.setattr(turn, "DIRECT_MAX_ANSWERS", 0)  # every turn through LangGraph, as the run did
    report = replay(run_id, Store(db))
    assert report.identical, str(report)
    assert used == []


def test_turns_with_more_answers_than_direct_serves_go_through_the_graph(tmp_path, monkeypatch) -> None:
    db = str(tmp_path / "many.db")
    run_id = _record(db, max_repairs=turn.DIRECT_MAX_ANSWERS)  # 13 answers a turn at most
    used = _counting(monkeypatch)
    report = replay(run_id, Store(db))
    assert report.identical, str(report)
    assert used == []


def test_run_direct_refuses_a_turn_it_cannot_bound() -> None:
    ctx = turn.TurnContext(
        obs=None,  # type: ignore[arg-type]
        check=None,  # type: ignore[arg-type]
        settings=None,  # type: ignore[arg-type]
        log=None,  # type: ignore[arg-type]
        pool=None,  # type: ignore[arg-type]
        tools=[],
        persona="neutral",
        persona_text="",
        memory=None,  # type: ignore[arg-type]
        max_answers=turn.DIRECT_MAX_ANSWERS + 1,
        max_actions=8,
    )
    import asyncio

    with pytest.raises(ValueError, match="at most 12 answers"):
        asyncio.run(turn.run_direct(ctx))


def test_a_replay_imports_neither_litellm_nor_langgraph(tmp_path) -> None:
    """In a fresh process: the record answers every call, so neither library is needed."""
    import subprocess

    db = str(tmp_path / "fresh.db")
    run_id = _record(db)
    code = (
        "import sys; from sandbox.replay import replay; "
        f"r = replay({run_id!r}, {db!r}); "
        "print(r.identical, 'litellm' in sys.modules, 'langgraph' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["True", "False", "False"], out.stdout + out.stderr
