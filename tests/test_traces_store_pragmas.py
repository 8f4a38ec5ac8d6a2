"""The SQLite store's connection settings: WAL, synchronous=NORMAL, a 32 MB page cache and a checkpoint
every 4,000 WAL pages; each round is readable by another connection as soon as its commit returns, and a
WAL that passes the checkpoint size is copied back into the database while a reader keeps reading."""

from __future__ import annotations

import sqlite3

from traces_helpers import tiny

from sandbox import Session
from sandbox.record import LEDGER_COLUMNS
from traces import Store
from traces.store import CACHE_KIB, WAL_CHECKPOINT_PAGES, RoundBatch


def test_a_store_connection_keeps_wal_normal_sync_and_the_larger_cache_and_checkpoint(tmp_path) -> None:
    store = Store(str(tmp_path / "p.db"))
    with store.engine.connect() as conn:
        got = {
            p: conn.exec_driver_sql(f"PRAGMA {p}").scalar()
            for p in ("journal_mode", "synchronous", "cache_size", "wal_autocheckpoint", "foreign_keys")
        }
    assert got == {
        "journal_mode": "wal",
        "synchronous": 1,  # NORMAL
        "cache_size": -CACHE_KIB,
        "wal_autocheckpoint": WAL_CHECKPOINT_PAGES,
        "foreign_keys": 1,
    }


def _postings(run_id: str, first: int, n: int, round_: int) -> RoundBatch:
    batch = RoundBatch()
    rows = [(run_id, first + i, round_, f"acct:{i % 97}", "external", 1 + i, "fee", "x" * 200) for i in range(n)]
    batch.extend_tuples("ledger_entries", LEDGER_COLUMNS, rows)
    return batch


def test_each_round_is_read_by_another_connection_once_committed_across_checkpoints(tmp_path) -> None:
    db = str(tmp_path / "r.db")
    run_id = Session(tiny(rounds=1), store=db, tracing=False).run().run_id
    store = Store(db)
    reader = sqlite3.connect(db)  # as the app reads: its own connection, while the run writes
    try:
        seq, per_round = 10**6, 3_000  # about 250 pages a round: the WAL passes 4,000 pages and is checkpointed
        for rnd in range(2, 22):
            store.commit_round(run_id, _postings(run_id, seq, per_round, rnd), {"rounds_done": rnd})
            seq += per_round
            done = reader.execute("SELECT rounds_done FROM runs WHERE id = ?", (run_id,)).fetchone()[0]
            n = reader.execute(
                "SELECT count(*) FROM ledger_entries WHERE run_id = ? AND round = ?", (run_id, rnd)
            ).fetchone()[0]
            assert (done, n) == (rnd, per_round)
        reader.close()
        store.dispose()
        whole = sqlite3.connect(db)  # the WAL copied back (or still read): every row is there, in a sound file
        assert whole.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert whole.execute("SELECT count(*) FROM ledger_entries WHERE seq >= ?", (10**6,)).fetchone()[0] == 20 * 3_000
        whole.close()
    finally:
        reader.close()
