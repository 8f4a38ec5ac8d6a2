"""``benchmarks/bench_floor.py`` writes back every row a run stored, and nothing else: its floor is the
record's own rows in Agora's own schema (a floor that left rows or indexes out would flatter the ceilings)."""

from __future__ import annotations

import importlib.util
import pathlib
import sqlite3
import sys
from typing import Any

import pytest

BENCH = pathlib.Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture
def floor(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.syspath_prepend(str(BENCH))
    spec = importlib.util.spec_from_file_location("bench_floor_under_test", BENCH / "bench_floor.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)
    spec.loader.exec_module(module)
    return module


def _dump(path: pathlib.Path) -> dict[str, list[tuple[Any, ...]]]:
    con = sqlite3.connect(path)
    tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    out = {t: con.execute(f"SELECT * FROM [{t}] ORDER BY rowid").fetchall() for t in tables}
    con.close()
    return out


def _indexes(path: pathlib.Path) -> set[str]:
    con = sqlite3.connect(path)
    names = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL")}
    con.close()
    return names


def test_floor_writes_back_every_stored_row(floor: Any, tmp_path: pathlib.Path) -> None:
    sc = floor.da_scenario(20, 2, 2, 3)
    record = tmp_path / "record.db"
    rows, orders, accepted = floor.recorded_rows(sc, str(record))
    assert orders >= accepted > 0
    assert len(rows) == 1 + 6 + 1  # the run's own rows, one commit per round, the rows written at the end
    for secondary in (True, False):
        again = tmp_path / f"again-{secondary}.db"
        floor.write_rows(rows, str(again), secondary, keep=True)
        stored, written = _dump(record), _dump(again)
        assert {t: n for t, n in stored.items() if n} == {t: n for t, n in written.items() if n}
        assert sum(len(v) for v in written.values()) == sum(len(t) for g in rows.values() for _, _, t in g)
        assert sum(len(v) for v in stored.values() if v) > orders  # actions, spans, ledger entries, deals ...
        if secondary:
            assert _indexes(again) == _indexes(record) != set()  # every index the store has
        else:
            assert _indexes(again) == set()  # keys only


def test_floor_seeding_seeds_once_per_order(floor: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[str] = []
    monkeypatch.setattr(floor, "seed_plain", lambda rng, key: seen.append(key))
    floor.seeding(450)
    assert len(seen) == 450 and len(set(seen)) == 450
