"""The round commit's driver-level insert writes what SQLAlchemy's insert writes: same values, same SQLite types."""

from __future__ import annotations

import sqlite3

from sandbox import Session
from sandbox.scenario import load_scenario
from traces import Store
from traces import store as store_mod

TABLES = ("actions", "transactions", "ledger_entries", "spans", "agents")


def _dump(db: str, run_id: str) -> dict[str, list[tuple[object, ...]]]:
    raw = sqlite3.connect(db)
    out = {}
    for t in TABLES:
        cols = [r[1] for r in raw.execute(f"pragma table_info({t})")]
        typed = ", ".join(f"{c}, typeof({c})" for c in cols if c not in ("span_id", "trace_id", "parent_id"))
        rows = raw.execute(f"select {typed} from {t} where run_id = ?", (run_id,)).fetchall()  # noqa: S608
        out[t] = sorted(rows, key=repr)
    return out


def test_driver_insert_writes_the_rows_and_types_sqlalchemy_writes(tmp_path, monkeypatch) -> None:
    scn = load_scenario("services")
    fast = str(tmp_path / "fast.db")
    a = Session(scn, store=fast, tracing=False).run()
    calls: list[str] = []
    real = store_mod.insert_plain

    def spy(conn, table, stmt, rows):  # type: ignore[no-untyped-def]
        done = real(conn, table, stmt, rows)
        if done:
            calls.append(table.name)
        return done

    monkeypatch.setattr(store_mod, "insert_plain", spy)
    Session(scn, store=str(tmp_path / "spy.db"), tracing=False).run()
    assert "transactions" in calls  # a table with Float columns takes the driver's path too
    monkeypatch.setattr(store_mod, "insert_plain", lambda *a: False)  # every table through SQLAlchemy
    slow = str(tmp_path / "slow.db")
    b = Session(scn, store=slow, tracing=False).run()
    got, want = _dump(fast, a.run_id), _dump(slow, b.run_id)
    got = {t: [tuple(str(v).replace(a.run_id, "R") for v in r) for r in rows] for t, rows in got.items()}
    want = {t: [tuple(str(v).replace(b.run_id, "R") for v in r) for r in rows] for t, rows in want.items()}
    assert got == want and len(got["transactions"]) > 2
    assert any("real" in r for r in got["transactions"])  # quality/score stored as REAL either way
    assert Store(fast).rounds_done(a.run_id) == scn.rounds
