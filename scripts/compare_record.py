"""Is the record unchanged? Every built-in scenario stored by two trees, compared table by table, row for row.

Run from a tree's root: ``python scripts/compare_record.py --against /path/to/other/tree [--rounds 15]``.
Each tree runs every built-in scenario (stored into SQLite, traced as a stored run is by default)
in a subprocess of its own with that tree first on ``PYTHONPATH`` and the same ``PYTHONHASHSEED``;
every row of every table of each run is dumped with what differs from run to run masked: the run
id (random) wherever it appears, span and trace ids, and wall-clock columns and event times; rows are sorted by their masked contents (the tables are read without an
order). Each scenario is also run untraced and unstored (the engine's fast paths), and what it keeps in memory
(each action's record, deals, the round's fines, turns and waits, the summary, the balances) is dumped in order.
Then the dumps are
compared and each table that differs is named with its first differing row. Exit status 1 when
anything differs. ``dump OUT.json`` writes one tree's dump (what the subprocesses run).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

MASKED = re.compile(
    r"(^|_)(span_id|trace_id|parent_span_id|parent_id|links|time|at|started|ended|created|duration|wall|elapsed|ts)"
    r"($|_)|_ms$|_ns$|_unix"
)
HEX_IDS = re.compile(r"\b[0-9a-f]{16}\b|\b[0-9a-f]{32}\b")
TIMES_IN_JSON = re.compile(r'"time_ns":\s*\d+')


def _mask(value: Any, run_id: str) -> Any:
    if isinstance(value, str):
        return TIMES_IN_JSON.sub('"time_ns":0', HEX_IDS.sub("<id>", value.replace(run_id, "<run>")))
    if isinstance(value, (bytes, bytearray)):
        return f"<{len(value)} bytes>"
    return value


def dump(rounds: int) -> dict[str, Any]:
    """Every built-in scenario's record, masked, by scenario and table."""
    from sandbox.scenario import builtin_names, load_scenario
    from sandbox.session import Session
    from traces.history import export_run
    from traces.store import Store

    out: dict[str, Any] = {}
    for name in builtin_names():
        sc = load_scenario(name)
        with tempfile.TemporaryDirectory() as tmp:
            store = Store(os.path.join(tmp, "run.db"))
            res = Session(sc, rounds=min(rounds, sc.rounds), store=store, run_id=f"{name}-cmp0123456").run()
            tables = export_run(store, res.run_id)
            store.dispose()
        out[name] = {  # rows sorted by their masked contents: the tables are read without an order
            table: sorted(
                (
                    {k: ("<masked>" if MASKED.search(k) else _mask(v, res.run_id)) for k, v in sorted(row.items())}
                    for row in rows
                ),
                key=lambda row: json.dumps(row, default=repr, sort_keys=True),
            )
            for table, rows in sorted(tables.items())
        }
    return out


def dump_untraced(rounds: int) -> dict[str, Any]:
    """Every built-in scenario run untraced and unstored (the engine's fast paths: no span and no store), what it
    kept in memory round by round: each action's record, each deal, the round's fines, turns and waits, then the
    summary and the ledger's balances."""
    from sandbox.scenario import builtin_names, load_scenario
    from sandbox.session import Session

    out: dict[str, Any] = {}
    for name in builtin_names():
        sc = load_scenario(name)
        run_id = f"{name}-cmp0123456"
        session = Session(sc, rounds=min(rounds, sc.rounds), tracing=False, run_id=run_id)
        kept: dict[str, list[dict[str, Any]]] = {"actions": [], "deals": [], "rounds": []}

        def keep(_session: Any, log: Any, kept: dict[str, list[dict[str, Any]]] = kept) -> None:
            for r in log.records:
                v = r.verdict
                kept["actions"].append(
                    {
                        "round": log.round,
                        "seq": r.seq,
                        "agent_id": r.agent_id,
                        "action_type": r.action_type,
                        "payload": r.payload,
                        "accepted": v.accepted,
                        "rule": v.rule,
                        "reason": v.reason,
                        "thread_id": r.thread_id,
                    }
                )
            kept["deals"].extend({"round": log.round, "deal": repr(d)} for d in log.deals)
            kept["rounds"].append(
                {"round": log.round, "fines": repr(log.fines), "turns": log.turns, "waits": log.waits}
            )

        session.hooks.round_end.append(keep)
        session.run()
        summary = {k: v for k, v in session.summary().items() if k != "run_id"}
        kept["summary"] = [{"summary": json.dumps(summary, default=repr, sort_keys=True)}]
        kept["balances"] = [{"account": k, "micros": v} for k, v in sorted(session.ledger.balances.items())]
        out[f"{name} (untraced, unstored)"] = {
            table: [{k: _mask(v, run_id) for k, v in row.items()} for row in rows] for table, rows in kept.items()
        }
    return out


def compare(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    """What differs between two dumps, one line per table."""
    found = []
    for scn in sorted(set(a) | set(b)):
        ta, tb = a.get(scn, {}), b.get(scn, {})
        for table in sorted(set(ta) | set(tb)):
            ra, rb = ta.get(table, []), tb.get(table, [])
            if ra == rb:
                continue
            first = next((i for i, (x, y) in enumerate(zip(ra, rb, strict=False)) if x != y), min(len(ra), len(rb)))
            x = ra[first] if first < len(ra) else None
            y = rb[first] if first < len(rb) else None
            diff = {
                k: (x.get(k), y.get(k)) for k in set(x or {}) | set(y or {}) if (x or {}).get(k) != (y or {}).get(k)
            }
            found.append(f"{scn}/{table}: {len(ra)} vs {len(rb)} rows; first difference at row {first}: {diff}"[:600])
    return found


def _run_dump(tree: Path, rounds: int, hashseed: str, out: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(tree), "PYTHONHASHSEED": hashseed}
    subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "dump", str(out), "--rounds", str(rounds)],
        cwd=tree,
        env=env,
        check=True,
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("command", nargs="?", default="compare", choices=["compare", "dump"])
    ap.add_argument("out", nargs="?", help="dump: the file to write")
    ap.add_argument("--against", type=Path, help="compare: the other tree's root")
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--hashseed", default="7")
    a = ap.parse_args()
    if a.command == "dump":
        Path(a.out).write_text(json.dumps({**dump(a.rounds), **dump_untraced(a.rounds)}, default=repr, sort_keys=True))
        return
    if a.against is None:
        ap.error("compare needs --against TREE")
    here = Path(__file__).resolve().parents[1]
    with tempfile.TemporaryDirectory() as tmp:
        mine, theirs = Path(tmp, "mine.json"), Path(tmp, "theirs.json")
        _run_dump(a.against.resolve(), a.rounds, a.hashseed, theirs)
        _run_dump(here, a.rounds, a.hashseed, mine)
        da, db = json.loads(theirs.read_text()), json.loads(mine.read_text())
    diffs = compare(da, db)
    n_rows = sum(len(rows) for tables in db.values() for rows in tables.values())
    print(f"{len(db)} scenarios, {n_rows:,} rows on this tree ({here}) against {a.against}")
    for line in diffs:
        print(line)
    print("the same, row for row" if not diffs else f"{len(diffs)} tables differ")
    sys.exit(1 if diffs else 0)


if __name__ == "__main__":
    main()
