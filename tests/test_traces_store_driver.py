"""The round commit's SQLite writes through the driver: the rows, the run update, the journal clearing and
the schema of a new store are what the SQLAlchemy path makes, and a locked store still reads as away."""

from __future__ import annotations

import sqlite3

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlmodel import SQLModel, create_engine
from traces_helpers import tiny

from protocols.verdict import Verdict
from sandbox import Session
from sandbox.ledger import Entry
from sandbox.record import (
    ACTION_COLUMNS,
    LEDGER_COLUMNS,
    ActionRecord,
    RoundLog,
    action_rows,
    action_tuples,
    ledger_rows,
    ledger_tuples,
)
from traces import Store
from traces.schema import ActionRow, LedgerEntryRow
from traces.store import RoundBatch, is_transient

text = st.text(max_size=12)
maybe = st.none() | text
verdicts = st.builds(Verdict, st.booleans(), text, text)
records = st.builds(ActionRecord, st.integers(1, 10**6), text, text, text, verdicts, maybe, maybe)
entries = st.builds(Entry, st.integers(1, 10**9), st.integers(0, 999), text, text, st.integers(1, 10**15), text, maybe)


@settings(max_examples=60, deadline=None)
@given(st.lists(records, max_size=5), st.lists(entries, max_size=5), st.integers(0, 500))
def test_tuples_hold_the_rows_values_in_the_tables_column_order(recs, ents, rnd) -> None:
    log = RoundLog(rnd, records=recs)
    assert ACTION_COLUMNS == tuple(ActionRow.__table__.columns.keys())  # type: ignore[attr-defined]
    assert LEDGER_COLUMNS == tuple(LedgerEntryRow.__table__.columns.keys())  # type: ignore[attr-defined]
    want = [tuple(r[c] for c in ACTION_COLUMNS) for r in action_rows("R", log)]
    got = action_tuples("R", log)
    assert got == want  # accepted as 1/0 equals True/False
    assert all(type(t[7]) is int for t in got)  # the driver binds an int, not a bool through its adapters
    assert ledger_tuples("R", ents) == [tuple(r[c] for c in LEDGER_COLUMNS) for r in ledger_rows("R", ents)]


def _schema(db: str) -> list[tuple[str, ...]]:
    return sorted(sqlite3.connect(db).execute("SELECT type, name, tbl_name, sql FROM sqlite_master").fetchall())


def test_a_new_store_gets_create_alls_schema(tmp_path) -> None:
    ref = str(tmp_path / "ref.db")
    SQLModel.metadata.create_all(create_engine(f"sqlite:///{ref}"))
    for name in ("a.db", "b.db"):  # the first compiles the statements, the second reuses them
        db = str(tmp_path / name)
        Store(db).engine.dispose()
        assert _schema(db) == _schema(ref)
    old = str(tmp_path / "old.db")  # a store that has some tables gets the rest from create_all
    raw = sqlite3.connect(old)
    raw.executescript("".join(s + ";\n" for s in _ddl_of(ref, "actions")))
    raw.close()
    Store(old).engine.dispose()
    assert _schema(old) == _schema(ref)


def _ddl_of(db: str, table: str) -> list[str]:
    rows = sqlite3.connect(db).execute("SELECT sql FROM sqlite_master WHERE tbl_name = ? AND sql IS NOT NULL", (table,))
    return [r[0] for r in rows]


def test_the_run_update_and_journal_clearing_through_the_driver(tmp_path) -> None:
    db = str(tmp_path / "s.db")
    r = Session(tiny(rounds=3), store=db, tracing=False).run()
    store = Store(db)
    assert store.rounds_done(r.run_id) == 3
    journal = [
        {
            "run_id": r.run_id,
            "round": rnd,
            "agent_id": "a",
            "seq": 1,
            "attempt": 1,
            "event": "call",
            "model": "m",
            "request_hash": "h",
            "messages_json": "[]",
            "params_json": "{}",
        }
        for rnd in (3, 4, 5)
    ]
    store.commit_round(r.run_id, RoundBatch(rows={"llm_call_journal": journal}), {})
    store.commit_round(r.run_id, RoundBatch(), {"rounds_done": 4, "status": "running"})
    with sqlite3.connect(db) as raw:
        left = [x[0] for x in raw.execute("SELECT round FROM llm_call_journal WHERE run_id = ?", (r.run_id,))]
        done, status = raw.execute("SELECT rounds_done, status FROM runs WHERE id = ?", (r.run_id,)).fetchone()
    assert left == [5] and (done, status) == (4, "running")


def test_a_locked_store_is_away_not_wrong(tmp_path) -> None:
    db = str(tmp_path / "s.db")
    r = Session(tiny(rounds=1), store=db, tracing=False).run()
    store = Store(db, busy_timeout=0.05)
    batch = RoundBatch()
    batch.extend_tuples("ledger_entries", LEDGER_COLUMNS, [(r.run_id, 10**6, 2, "a", "b", 5, "fee", None)])
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another writer holds the lock
    try:
        with pytest.raises(Exception) as caught:
            store.commit_round(r.run_id, batch, {"rounds_done": 2})
        assert is_transient(caught.value)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    store.commit_round(r.run_id, batch, {"rounds_done": 2})  # written once the lock is gone
    assert store.rounds_done(r.run_id) == 2
