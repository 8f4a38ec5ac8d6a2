"""LLM agents trade in every mechanism: offered exactly its tools for their role, with its rules in the prompt.

Each test runs a built-in scenario with its traders switched to LLM agents on the in-process
stand-in model, and checks that the agents acted with the mechanism's own actions, that trades
happened, and that each agent's first call carried exactly the mechanism's tools for its role.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

import pytest

from agents.llm.scripted_model import ScriptedStandIn, register_stand_in
from protocols.mechanism_table import actions_for, instructions_for
from sandbox import Session
from sandbox.cli.llm import llm_scenario
from sandbox.scenario import load_scenario
from traces import Store
from traces.llm_calls import llm_calls


def _run(tmp_path: Any, name: str, rounds: int, keep: tuple[str, ...] = ()) -> tuple[Session, str, str]:
    """The built-in scenario ``name`` with every population but those of agent types ``keep`` on LLM agents."""
    register_stand_in(ScriptedStandIn())
    base = load_scenario(name)
    scenario = llm_scenario(base, "scripted/auto", {})
    for spec, orig in zip(scenario.population, base.population, strict=True):
        if orig.agent in keep:
            spec.agent, spec.params = orig.agent, orig.params
    db = str(tmp_path / f"{name}.db")
    s = Session(scenario, rounds=rounds, store=db)
    run_id = s.run().run_id
    return s, db, run_id


def _accepted_kinds(db: str, run_id: str, llm_ids: set[str]) -> set[str]:
    rows = (
        sqlite3.connect(db)
        .execute("select agent_id, action_type from actions where run_id=? and accepted", (run_id,))
        .fetchall()
    )
    return {kind for agent, kind in rows if agent in llm_ids}


def _check_tools_and_prompt(s: Session, db: str, run_id: str, mechanism: str) -> set[str]:
    """Every LLM agent's first call offered exactly its role's tools and carried the mechanism's text."""
    llm = {aid for aid, a in s.agents.items() if a.kind == "llm"}
    first: dict[str, dict[str, Any]] = {}
    for r in llm_calls(Store(db), run_id):
        if r["event"] == "call" and r["agent_id"] not in first:
            first[r["agent_id"]] = r
    assert set(first) == llm, "every LLM agent made a call"
    for aid, r in first.items():
        assert r["tools_json"], "tool definitions are stored on an agent's first call"
        offered = {t["function"]["name"] for t in json.loads(r["tools_json"])}
        assert offered == actions_for(mechanism, s.agents[aid].role), (aid, offered)
        system = json.loads(r["messages_json"])[0]["content"]
        assert instructions_for(mechanism) in system
    return llm


def _deals(s: Session) -> int:
    return int(s.summary()["transactions"])


def test_bilateral(tmp_path) -> None:
    s, db, run_id = _run(tmp_path, "services", rounds=6)
    llm = _check_tools_and_prompt(s, db, run_id, "bilateral")
    assert {"post_service", "make_offer", "accept", "deliver", "report_outcome"} <= _accepted_kinds(db, run_id, llm)
    assert _deals(s) > 0


def test_posted_price(tmp_path) -> None:
    s, db, run_id = _run(tmp_path, "posted_price", rounds=3)
    llm = _check_tools_and_prompt(s, db, run_id, "posted_price")
    assert _accepted_kinds(db, run_id, llm) == {"set_price", "buy_now"}
    assert _deals(s) > 0


def test_double_auction(tmp_path) -> None:
    s, db, run_id = _run(tmp_path, "double_auction", rounds=6)
    llm = _check_tools_and_prompt(s, db, run_id, "double_auction")
    assert _accepted_kinds(db, run_id, llm) == {"place_order"}
    assert _deals(s) > 0


def test_sealed_bid(tmp_path) -> None:
    s, db, run_id = _run(tmp_path, "sealed_bid", rounds=4)
    llm = _check_tools_and_prompt(s, db, run_id, "sealed_bid")
    assert _accepted_kinds(db, run_id, llm) == {"post_service", "sealed_bid"}
    assert _deals(s) > 0, "the auctions cleared with LLM bidders"


def test_intermediary(tmp_path) -> None:
    s, db, run_id = _run(tmp_path, "outcome_market_reported", rounds=5)
    llm = _check_tools_and_prompt(s, db, run_id, "intermediary")
    assert {"post_service", "request_match", "deliver", "report_outcome"} <= _accepted_kinds(db, run_id, llm)
    assert _deals(s) > 0


def test_information_market(tmp_path) -> None:
    # the vendors stay scripted (they only own the listed items); every buyer is an LLM agent
    s, db, run_id = _run(tmp_path, "information_market", rounds=3, keep=("idle",))
    llm = _check_tools_and_prompt(s, db, run_id, "information")
    assert {"inspect", "buy_now"} <= _accepted_kinds(db, run_id, llm)
    assert _deals(s) > 0 and s.market.summary()["inspections"] > 0
    later = [r for r in llm_calls(Store(db), run_id) if r["event"] == "call" and r["round"] > 1]
    # an item's title and claim are the goods: quoted on every turn, not only the first time seen
    assert later and all("Acme" in json.loads(r["messages_json"])[1]["content"] for r in later)


@pytest.mark.parametrize("name", ["bertrand", "bertrand_grim"])
def test_bertrand(tmp_path, name: str) -> None:
    s, db, run_id = _run(tmp_path, name, rounds=3)
    llm = _check_tools_and_prompt(s, db, run_id, "posted_price")
    assert _accepted_kinds(db, run_id, llm) == {"set_price"}
    # the firms have no buyer agents: logit consumers buy from both every round once both posted a price
    assert len(s.market.price_log) == 3 and all(p > 1.0 for row in s.market.price_log for p in row.values())
    assert s.market.summary()["collusion_index"] is not None
