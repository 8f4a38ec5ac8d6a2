"""An agent's actions are read through the one agent-first index actions keep: (run_id, accepted, agent_id).

The store writes one agent-first entry per action instead of two (ix_actions_run_agent is gone);
reads by agent add ``accepted IN (false, true)`` so that index serves them, on SQLite (with the
planner's statistics, which the app gathers on open) and on PostgreSQL.
"""

from __future__ import annotations

import os
import sqlite3

import pytest
from sqlalchemy import event, text
from traces_helpers import tiny

from sandbox import Session
from sandbox.scenario import Scenario, parse_scenario
from traces import frames, read
from traces.store import Store


def _market(n: int, rounds: int) -> Scenario:
    """``n`` ZI-C buyers and ``n`` sellers: enough actions per run that an index beats the run's key."""
    base = tiny(rounds=rounds).model_dump(mode="json")
    for group in base["population"]:
        group["n"] = n
    return parse_scenario(base, "indexes")


def _agent_reads(store: Store, run_id: str, agent: str) -> list[tuple[str, object]]:
    """The SQL (and parameters) ``read.actions`` and ``frames.actions`` send for one agent's actions."""
    sent: list[tuple[str, object]] = []

    def capture(conn, cursor, statement, params, context, executemany) -> None:  # noqa: ANN001
        if "FROM actions" in statement:
            sent.append((statement, params))

    event.listen(store.engine, "before_cursor_execute", capture)
    try:
        read.actions(store, run_id, agent=agent, offset=0, limit=100)
        frames.actions(store, run_id, agent=agent)
    finally:
        event.remove(store.engine, "before_cursor_execute", capture)
    assert len(sent) == 2
    return sent


def test_an_agents_actions_are_all_its_actions_and_come_through_the_accepted_agent_index(tmp_path) -> None:
    db = str(tmp_path / "a.db")
    r = Session(_market(20, 6), store=db).run()
    store = Store(db)
    everything = read.actions(store, r.run_id)
    agents = sorted({a.agent_id for a in everything})
    assert len(agents) == 40
    for agent in agents:
        mine = [(a.round, a.seq) for a in everything if a.agent_id == agent]
        assert mine and [(a.round, a.seq) for a in read.actions(store, r.run_id, agent=agent)] == mine
        assert (
            list(
                zip(
                    frames.actions(store, r.run_id, agent=agent)["round"],
                    frames.actions(store, r.run_id, agent=agent)["seq"],
                    strict=True,
                )
            )
            == mine
        )
        for accepted in (True, False):
            got = read.actions(store, r.run_id, agent=agent, accepted=accepted)
            assert [(a.round, a.seq) for a in got] == [
                (a.round, a.seq) for a in everything if a.agent_id == agent and a.accepted is accepted
            ]
    raw = sqlite3.connect(db)
    assert "ix_actions_run_agent" not in {n for (n,) in raw.execute("select name from sqlite_master")}
    raw.execute("ANALYZE")
    raw.commit()
    for sql, params in _agent_reads(store, r.run_id, agents[0]):
        plan = " | ".join(row[3] for row in raw.execute("explain query plan " + sql, params))  # type: ignore[arg-type]
        assert "ix_actions_run_accepted_agent" in plan and "agent_id=?" in plan, plan


@pytest.mark.skipif(not os.environ.get("AGORA_TEST_PG_URL"), reason="set AGORA_TEST_PG_URL to check PostgreSQL's plan")
def test_postgresql_looks_an_agents_actions_up_in_the_accepted_agent_index() -> None:
    store = Store(os.environ["AGORA_TEST_PG_URL"])
    r = Session(_market(20, 6), store=store).run()
    agent = read.actions(store, r.run_id)[0].agent_id
    with store.engine.connect() as conn:
        conn.execute(text("ANALYZE actions"))
        conn.execute(text("SET enable_seqscan = off"))  # a small table: ask which index serves it
        plan = "\n".join(
            row[0]
            for row in conn.execute(
                text("EXPLAIN SELECT * FROM actions WHERE run_id = :r AND accepted IN (false, true) AND agent_id = :a"),
                {"r": r.run_id, "a": agent},
            )
        )
    cond = next((line for line in plan.splitlines() if "Index Cond" in line), "")
    # the agent is looked up in the index; PostgreSQL 15 takes accepted as a second key range or as a filter
    # on the index's entries, as its statistics say (both read the index, not the run's rows)
    assert "ix_actions_run_accepted_agent" in plan and "agent_id" in cond, plan


def test_a_span_row_made_directly_has_every_column_of_the_span_table_and_no_other() -> None:
    from traces.spans import SPAN_COLUMNS, SpanRow, as_mapping, encode_attributes, hex_ids, row_tuple, span_tuple

    trace_hex, span_hex = hex_ids(7, 9)
    assert (trace_hex, span_hex) == ("0" * 31 + "7", "0" * 15 + "9")
    assert SPAN_COLUMNS == tuple(SpanRow.__table__.columns.keys())  # type: ignore[attr-defined]
    attrs = {"agora.agent.id": "a", "x": 1, "agora.round": 4, "agora.action.type": "t", "agora.verdict": "v"}
    made = row_tuple("r", "agent.decide", trace_hex, span_hex, "p", 1, 3, {**attrs, "agora.verdict.rule": "ok"})
    row = as_mapping(made)
    assert set(row) == set(SPAN_COLUMNS) and len(made) == len(SPAN_COLUMNS)
    assert (row["agent_id"], row["attributes_json"], row["duration_ns"]) == ("a", '{"x":1}', 2)
    # the same span from its columns already split: the same row, column for column
    split = span_tuple(
        "r", "agent.decide", trace_hex, span_hex, "p", 1, 3, encode_attributes({"x": 1}), "a", 4, None, "t", "v", "ok"
    )
    assert split == made


def test_every_index_of_the_round_tables_starts_with_the_run(tmp_path) -> None:
    """Every read of actions, postings and deals names the run, so no index leaves it out (each is written
    once per row; ix_ledger_entries_round on round alone went on 2026-12-03)."""
    db = str(tmp_path / "i.db")
    Store(db).engine.dispose()
    raw = sqlite3.connect(db)
    for table in ("actions", "ledger_entries", "transactions"):
        for _, name, *_ in raw.execute(f"PRAGMA index_list({table})"):
            first = raw.execute(f"PRAGMA index_info({name})").fetchone()[2]
            assert first == "run_id", (table, name)
