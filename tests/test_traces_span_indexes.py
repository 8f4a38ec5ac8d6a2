"""The span table's reads are served by an index, with and without the planner's statistics (SQLite)."""

from __future__ import annotations

import sqlite3

from traces_helpers import tiny

from sandbox import Session

QUERIES = {
    "a round": "select * from spans where run_id = ? and round = 2 order by start_ns, span_id limit 100",
    "an agent in a round": "select * from spans where run_id = ? and agent_id = ? and round = 2 "
    "order by start_ns, span_id limit 100",
    "a deal's turns": "select * from spans where run_id = ? and operation in ('agent.decide', 'invoke_agent') "
    "and agent_id in (?, 'x') and round in (2, 3)",
    "a thread": "select * from spans where run_id = ? and thread_id = ?",
}


def test_span_reads_use_an_index_and_never_scan_the_table(tmp_path) -> None:
    db = str(tmp_path / "i.db")
    r = Session(tiny(rounds=4), store=db).run()
    raw = sqlite3.connect(db)
    agent, thread = raw.execute(
        "select agent_id, (select thread_id from spans where thread_id is not null limit 1) from spans "
        "where agent_id is not null limit 1"
    ).fetchone()
    args = {"a round": (r.run_id,), "a thread": (r.run_id, thread)}
    for analysed in (False, True):
        if analysed:
            raw.execute("ANALYZE")
        for name, sql in QUERIES.items():
            plan = " | ".join(
                row[3] for row in raw.execute("explain query plan " + sql, args.get(name, (r.run_id, agent)))
            )
            assert "USING" in plan and "SCAN spans" not in plan, (name, plan)
            if name == "an agent in a round":
                assert "ix_spans_run_round_agent" in plan or analysed, (name, plan)
            if name == "a deal's turns" and not analysed:
                # without statistics SQLite weighs two indexes alike and takes the one it lists first, which
                # follows the order they were created in: name order (traces/tables.py), in every process
                assert "ix_spans_run_round_agent" in plan, (name, plan)
            if name == "a thread":
                assert "ix_spans_run_thread" in plan, plan  # the partial index: an equality implies NOT NULL


def test_indexes_are_created_in_the_same_order_whatever_the_hash_seed(tmp_path) -> None:
    """SQLAlchemy keeps a table's indexes in a set; the store creates them in name order instead, so
    the schema (and the planner's pick between equally weighted indexes) is the same in every process."""
    import os
    import subprocess
    import sys

    script = (
        "import sqlite3, sys\n"
        "from traces.store import Store\n"
        "Store(sys.argv[1]).engine\n"
        "rows = sqlite3.connect(sys.argv[1]).execute(\n"
        "    \"select tbl_name, name from sqlite_master where type = 'index' order by rowid\").fetchall()\n"
        "print(rows)\n"
    )
    seen = []
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        out = subprocess.run(
            [sys.executable, "-c", script, str(tmp_path / f"s{seed}.db")],
            capture_output=True,
            text=True,
            env=env,
            check=True,
        )
        seen.append(out.stdout)
    assert seen[0] == seen[1]
    assert "ix_spans_run_op_start" in seen[0]
