"""What the record costs at the least: floors under the engine goals, against Mesa, in one run.

The engine goals compare Agora with an idiomatic Mesa 3 model of the same ZI-C double auction
(``bench_engine.py``: 200 traders x 10 units, 20 periods of 10 rounds, one random active trader per
Mesa step). This script asks how far those ratios *could* go while Agora keeps its record:

- **the record's rows, written by ``sqlite3`` alone.** A traced, stored run of the auction is made
  once; then every row it stored (actions, spans, ledger entries, deals, rounds, ...) is written again
  into a new file with Agora's own schema and SQLite settings, round by round, one transaction per
  round as the engine commits, by the ``sqlite3`` module directly: no engine, no row building, no
  SQLAlchemy. That is what storing this record costs however fast the rest of Agora becomes. It is
  written three ways: with every index the store has; with the secondary indexes dropped (primary
  keys only); and into an in-memory database with the secondary indexes dropped (no file at all).
- **seeding a turn's generator** (``sandbox.seeding.seed_plain``, once per order): what drawing each
  turn from its own keyed generator (so that forks share their random numbers) costs per order.

Every figure is CPU time per order (user + system, ``time.process_time``), the best of ``--repeat``
alternating runs; whole runs are timed by ``bench_engine.timed``. The ceilings it prints are Mesa's time per order over a floor's: no engine that writes this record into
SQLite with these indexes can beat them.

    python benchmarks/bench_floor.py [--repeat 2] [--periods 20]
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import sqlite3
import sys
import tempfile
from collections import defaultdict
from collections.abc import Callable
from time import process_time
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bench_engine import agora_run, bare_span_cpu, da_scenario, mesa_run, timed  # noqa: E402

from sandbox.scenario import load_scenario  # noqa: E402
from sandbox.seeding import seed_plain  # noqa: E402
from sandbox.session import Session  # noqa: E402
from traces.store import Store, _sqlite_pragmas  # noqa: E402

END = 1 << 62  # the bucket of rows written after the last round
Rows = dict[int, list[tuple[str, str, list[tuple[Any, ...]]]]]  # round -> [(table, insert SQL, rows)]


def _remove(db: str) -> None:
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(db + suffix):
            os.remove(db + suffix)


def recorded_rows(sc: Any, db: str) -> tuple[Rows, int, int]:
    """Run ``sc`` traced into ``db`` and read back every row it stored, grouped by the round that wrote it.

    Rows of tables without rounds (the run, its agents, its policy) go first, as the engine writes them
    before round 1; rows with an empty round (the run's own span) go last, as it writes them at the end. Within a table, rows keep their stored order. Returns the rows and the run's orders.
    """
    res = Session(sc, tracing=True, store=db).run()
    con = sqlite3.connect(db)
    tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY rowid")]
    tables.sort(key=lambda t: t != "runs")  # the run row first: the other tables refer to it
    by_round: Rows = defaultdict(list)
    for table in tables:
        cols = [r[1] for r in con.execute(f"PRAGMA table_info([{table}])")]
        rows = con.execute(f"SELECT * FROM [{table}] ORDER BY rowid").fetchall()
        if not rows:
            continue
        sql = f"INSERT INTO [{table}] VALUES ({', '.join('?' * len(cols))})"
        at = cols.index("round") if "round" in cols else None
        groups: dict[int, list[tuple[Any, ...]]] = defaultdict(list)
        for row in rows:  # a row of a table with rounds but none of its own (the run's span) comes at the end
            groups[(END if row[at] is None else row[at]) if at is not None else 0].append(row)
        for rnd, group in groups.items():
            by_round[rnd].append((table, sql, group))
    con.close()
    s = res.summary
    return dict(sorted(by_round.items())), s["actions"], s["actions"] - sum(s["rejections"].values())


def empty_store(path: str, secondary: bool) -> sqlite3.Connection:
    """A new store with Agora's schema (made by ``traces.store.Store``) and its SQLite settings, opened raw."""
    if path != ":memory:":
        _remove(path)
        Store(path).engine.dispose()  # creates every table and index as a run would find them
        con = sqlite3.connect(path, isolation_level=None)
    else:
        con = sqlite3.connect(path, isolation_level=None)
        tmp = tempfile.mktemp(suffix=".db")
        Store(tmp).engine.dispose()
        schema = sqlite3.connect(tmp)
        for (sql,) in schema.execute("SELECT sql FROM sqlite_master WHERE type = 'table' AND sql IS NOT NULL"):
            con.execute(sql)
        schema.close()
        _remove(tmp)
    _sqlite_pragmas(con, None)
    if not secondary:
        names = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL")]
        for name in names:  # explicit indexes only: a primary key's own index has no SQL and stays
            con.execute(f"DROP INDEX [{name}]")
    return con


def write_rows(rows: Rows, path: str, secondary: bool, keep: bool = False) -> float:
    """CPU seconds to write ``rows`` into a new store at ``path``, one transaction per round (the file is
    removed afterwards unless ``keep``)."""
    con = empty_store(path, secondary)
    c0 = process_time()
    for group in rows.values():
        con.execute("BEGIN")
        for _table, sql, tuples in group:
            con.executemany(sql, tuples)
        con.execute("COMMIT")
    spent = process_time() - c0
    con.close()
    if path != ":memory:" and not keep:
        _remove(path)
    return spent


def seeding(orders: int) -> float:
    """CPU seconds to seed one generator per order as a turn's is seeded (``seed_plain``)."""
    rng = random.Random()
    keys = [f"7:trader-{i % 200:03d}:{i // 200}" for i in range(orders)]
    c0 = process_time()
    for key in keys:
        seed_plain(rng, key)
    return process_time() - c0


def best_of(kinds: dict[str, Callable[[], float]], repeat: int) -> dict[str, float]:
    """Best CPU seconds of each kind, the kinds alternating."""
    best: dict[str, float] = {}
    for i in range(repeat):
        for name, fn in kinds.items():
            spent = fn()
            best[name] = min(spent, best.get(name, spent))
            print(f"  [{i + 1}/{repeat}] {name}: {spent:.2f} s", flush=True)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--traders", type=int, default=200)
    ap.add_argument("--units", type=int, default=10)
    ap.add_argument("--periods", type=int, default=20)
    ap.add_argument("--period-rounds", type=int, default=10)
    ap.add_argument("--repeat", type=int, default=2)
    a = ap.parse_args()
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    sc = da_scenario(a.traders, a.units, a.periods, a.period_rounds)
    print(f"double auction: {a.traders} traders x {a.units} units, {a.periods} periods of {a.period_rounds} rounds")
    agora_run(da_scenario(20, 2, 1, 2), False, False)  # warm-up: imports, first validations
    work = tempfile.mkdtemp(prefix="agora-floor-")
    print("recording a traced, stored run to take its rows from ...", flush=True)
    rows, orders, accepted = recorded_rows(sc, os.path.join(work, "record.db"))
    services_rows, _, services_accepted = recorded_rows(load_scenario("services"), os.path.join(work, "services.db"))
    counts: dict[str, int] = defaultdict(int)
    for group in rows.values():
        for table, _sql, tuples in group:
            counts[table] += len(tuples)
    print(f"  {orders:,} orders; rows stored: " + ", ".join(f"{t} {n:,}" for t, n in sorted(counts.items())))
    print(f"  {sum(counts.values()) / orders:.2f} rows and {len(rows)} commits for {orders:,} orders")

    kinds: dict[str, Callable[[], float]] = {
        "agora, tracing off, no store": lambda: timed(lambda: agora_run(sc, False, False))[1],
        "agora, stored, not traced": lambda: timed(lambda: agora_run(sc, False, True))[1],
        "agora, traced into SQLite": lambda: timed(lambda: agora_run(sc, True, True))[1],
        "floor: the rows by sqlite3, every index": lambda: write_rows(rows, os.path.join(work, "f.db"), True),
        "floor: the rows by sqlite3, keys only": lambda: write_rows(rows, os.path.join(work, "f.db"), False),
        "floor: the rows by sqlite3, in memory, keys only": lambda: write_rows(rows, ":memory:", False),
        "floor: seeding a turn's generator": lambda: seeding(orders),
        "services: the rows by sqlite3, every index": lambda: write_rows(
            services_rows, os.path.join(work, "f.db"), True
        ),
        "one bare OTel SDK span": lambda: bare_span_cpu() * orders,  # scaled so that per order = per span
    }
    try:
        import mesa  # noqa: F401

        mesa_name = "mesa model (random activation)"
        kinds = {mesa_name: lambda: timed(lambda: mesa_run(a.traders, a.units, a.periods, a.period_rounds))[1], **kinds}
        mesa_run(a.traders, a.units, 1, 1)  # import and first use outside the timing
    except ImportError:
        mesa_name = ""
        print("mesa is not installed (pip install -e .[bench]): the Mesa reference and the ceilings are skipped")
    print(f"\ntiming (best of {a.repeat}, alternating) ...")
    best = best_of(kinds, a.repeat)
    shutil.rmtree(work, ignore_errors=True)

    us = {name: 1e6 * s / orders for name, s in best.items() if not name.startswith("services")}
    print(f"\n{'CPU per order (user + system)':50} {'us':>8}")
    for name, v in us.items():
        print(f"{name:50} {v:8.1f}")
    span = us.pop("one bare OTel SDK span")
    rows_da = 1e6 * best["floor: the rows by sqlite3, every index"] / accepted
    rows_sv = 1e6 * best["services: the rows by sqlite3, every index"] / services_accepted
    print("\nthe record's rows alone (sqlite3, every index) per accepted action, in bare spans (goal: a whole traced,")
    print("stored, accepted action <= 3):")
    print(f"  double auction ({accepted:,} accepted): {rows_da:.1f} us = {rows_da / span:.1f} bare spans")
    print(f"  services ({services_accepted:,} accepted): {rows_sv:.1f} us = {rows_sv / span:.1f} bare spans")
    if mesa_name:
        m = us[mesa_name]
        engine = us["agora, tracing off, no store"]
        print("\nceilings: Mesa's time per order over a floor's (the most any engine keeping this record could reach)")
        print("  traced and stored / Mesa (goal >= 0.25):")
        for floor in ("every index", "keys only", "in memory, keys only"):
            f = us[f"floor: the rows by sqlite3, {floor}"]
            print(f"    writing the rows alone, {floor:22} <= {m / f:.3f}")
        f = us["floor: the rows by sqlite3, every index"]
        print(f"    today's untraced engine + the rows, every index  <= {m / (engine + f):.3f}")
        print(f"    measured: {m / us['agora, traced into SQLite']:.3f}")
        print("  untraced / Mesa (goal >= 1.0):")
        seed = us["floor: seeding a turn's generator"]
        print(f"    seeding alone                                     <= {m / seed:.3f}")
        print(f"    measured: {m / engine:.3f}")


if __name__ == "__main__":
    main()
