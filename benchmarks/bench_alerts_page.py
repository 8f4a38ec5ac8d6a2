"""Alerts page data times on a run with 10,000 alert cases (and what the old page loaded).

Records a short real red-team run (so the run, its actions and deals exist), then adds
synthetic alert cases to it in bulk until it holds ``--cases``, each with evidence of a long
case (100 record ids, 50 hits of history). Then it times, cold (caches cleared before each
call), the queries the Alerts page makes through ``ui.data.queue`` for its default view (open
cases), a filtered view (one kind and agent) and one opened case; the whole page rendered by
Streamlit's AppTest; and, for comparison, loading every case with its evidence as the page
did before it became a queue (``traces.alerts.alerts``).

    .venv/bin/python benchmarks/bench_alerts_page.py                 # 10,000 cases, temp SQLite file
    .venv/bin/python benchmarks/bench_alerts_page.py --db postgresql+psycopg://postgres@127.0.0.1:5432/bench
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

KINDS = ("collusion", "wash_trading", "reputation_ring", "message_storm", "concentration", "runaway_thread")


def synthetic_cases(store: Any, run_id: str, target: int, start: int) -> float:
    """Insert cases A<start>... until the run holds ``target``; returns the seconds taken."""
    from traces.alerts import AlertRow

    rows = []
    for i in range(start, target + 1):
        kind = KINDS[i % len(KINDS)]
        agents = [f"seller-{i % 37:03d}", f"buyer-{i % 53:03d}"][: 1 + i % 2]
        first = 1 + i % 900
        evidence = {
            "service": f"svc{i % 5}",
            "strength": i % 97 / 10,
            "per_agent": {a: {"share": 0.4, "deals": 12} for a in agents},
            "records": [f"tx:{i * 100 + k}" for k in range(100)],
            "history": [
                {"round": first + 10 * h, "severity": "medium", "strength": 1.0, "window": [first, first + 10 * h]}
                for h in range(50)
            ],
        }
        rows.append(
            {
                "run_id": run_id,
                "alert_id": f"A{i}",
                "round": first,
                "last_round": first + 10 * (i % 50),
                "count": 1 + i % 50,
                "kind": kind,
                "severity": ("low", "medium", "high")[i % 3],
                "agents_json": json.dumps(agents),
                "evidence_json": json.dumps(evidence, sort_keys=True),
                "strength": i % 97 / 10,
                "reopened": 0,
                "window_start": first,
                "window_end": first + 10,
                "summary": f"{kind} case {i} of {', '.join(agents)}",
                "status": ("open", "open", "dismissed", "confirmed")[i % 4],
                "auto": kind in ("wash_trading", "message_storm"),
            }
        )
    t0 = time.perf_counter()
    with store.engine.begin() as conn:
        conn.execute(AlertRow.__table__.insert(), rows)
    return time.perf_counter() - t0


def cold(fn: Callable[[], Any], repeats: int) -> float:
    """Median seconds of ``fn`` with Streamlit's data cache cleared before each call."""
    import streamlit as st

    times = []
    for _ in range(repeats):
        st.cache_data.clear()
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    """Build the store, then print the times."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cases", type=int, default=10_000)
    ap.add_argument("--db", help="store URL or SQLite path (default: a temp file)")
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    db = args.db or str(pathlib.Path(tempfile.mkdtemp(prefix="agora-alerts-bench-")) / "alerts.db")
    os.environ["AGORA_DB"] = db

    from sandbox.scenario import load_scenario
    from sandbox.session import Session
    from traces import alert_queue as aq
    from traces import alerts as al
    from traces.store import Store

    run_id = f"alerts-bench-{int(time.time())}"
    t0 = time.perf_counter()
    Session(load_scenario("redteam"), rounds=10, store=db, run_id=run_id).run()
    store = Store(db)
    have = len(al.alerts(store, run_id))
    print(f"red-team run {run_id}: {have} real cases, {time.perf_counter() - t0:.1f} s")
    secs = synthetic_cases(store, run_id, args.cases, have + 1)
    print(f"added {args.cases - have} synthetic cases in {secs:.1f} s ({args.cases} in the run)\n")

    from ui.data import queue as dq

    default = aq.CaseFilter(statuses=("open",))
    narrow = aq.CaseFilter(kinds=("collusion",), agent="seller-005", statuses=("open",))
    target = f"A{args.cases // 2}"

    def page_data(flt: aq.CaseFilter) -> None:
        dq.facets(run_id)
        dq.groups(run_id, flt)
        dq.page(run_id, flt, 0, 50)
        d = dq.case(run_id, target)
        assert d is not None

    times = {
        "facets (metrics, filter choices)": cold(lambda: dq.facets(run_id), args.repeats),
        "groups, open cases": cold(lambda: dq.groups(run_id, default), args.repeats),
        "page of 50, open cases": cold(lambda: dq.page(run_id, default, 0, 50), args.repeats),
        "page of 50, last page": cold(lambda: dq.page(run_id, default, args.cases // 2 - 50, 50), args.repeats),
        "one case with evidence and links": cold(lambda: dq.case(run_id, target), args.repeats),
        "page data, default view (all of the above)": cold(lambda: page_data(default), args.repeats),
        "page data, kind + agent filter": cold(lambda: page_data(narrow), args.repeats),
        "before: every case with its evidence (old page)": cold(lambda: al.alerts(store, run_id), args.repeats),
    }
    for name, t in times.items():
        print(f"{name:50} {t * 1000:8.1f} ms")

    from streamlit.testing.v1 import AppTest

    def render() -> None:
        at = AppTest.from_file(str(ROOT / "ui" / "views" / "alerts.py"), default_timeout=120)
        at.session_state["agora.run"] = run_id
        at.run()
        assert not at.exception, [e.value for e in at.exception]

    print(f"{'whole page rendered by AppTest (cold cache)':50} {cold(render, 3) * 1000:8.1f} ms")
    ratio = (
        times["before: every case with its evidence (old page)"] / times["page data, default view (all of the above)"]
    )
    print(f"\npage data {ratio:.0f}x faster than loading every case ({args.cases} cases, {store.url.split(':')[0]})")


if __name__ == "__main__":
    main()
