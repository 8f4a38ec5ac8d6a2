"""Page-data times of the Streamlit app on a store holding a run with one million spans.

Records a real services run (traced), then adds synthetic span rows to the same run in bulk
(agent turns with model calls and submissions under each round span, through
``traces.spans.write_spans``) until the run holds ``--spans`` spans. Then it times, cold
(caches cleared before each call), every query each page makes through ``ui.data``, and
each whole page rendered by Streamlit's AppTest.

    .venv/bin/python benchmarks/bench_ui_pages.py               # 1,000,000 spans in a temp file
    .venv/bin/python benchmarks/bench_ui_pages.py --spans 200000 --db /tmp/ui-bench.db
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import statistics
import tempfile
import time
from collections.abc import Callable

ROOT = pathlib.Path(__file__).resolve().parents[1]


def synthetic_spans(store, run_id: str, target: int) -> tuple[int, float]:
    """Add span rows to ``run_id`` until it holds ``target``; returns (added, seconds).

    Each agent gets, in every round, one more turn holding model calls, and submissions on
    threads of their own, as an LLM run of the same size would record.
    """
    from protocols import semconv as sc
    from traces import read
    from traces.spans import stored_count, write_spans

    have = stored_count(store, run_id)
    rounds = [r.round for r in read.rounds(store, run_id)]
    agents = [a.agent_id for a in read.agents(store, run_id)]
    per = max(2, -(-(target - have) // (len(rounds) * len(agents))))  # spans per agent and round
    chats, submits = (per - 1) // 2, per - 1 - (per - 1) // 2
    t0, added, n = time.perf_counter(), 0, 0
    base_ns = 1_700_000_000_000_000_000
    for r in rounds:
        rows: list[dict] = []
        trace, root = f"{r:08x}".rjust(32, "b"), f"{r:06x}".rjust(16, "a")
        for aid in agents:
            if have + added + len(rows) >= target:
                break
            n += 1
            turn, t = f"{n:016x}", base_ns + r * 10**9 + n * 1000
            rows.append(_row(turn, trace, root, run_id, sc.SPAN_AGENT_TURN, sc.SPAN_AGENT_TURN, aid, r, t, 900_000))
            for k in range(chats):
                n += 1
                rows.append(
                    _row(
                        f"{n:016x}",
                        trace,
                        turn,
                        run_id,
                        sc.SPAN_CHAT,
                        sc.SPAN_CHAT,
                        aid,
                        r,
                        t + k * 1000,
                        800,
                        model="scripted/zi",
                        tokens=(600, 40),
                    )
                )
            for _ in range(submits):
                n += 1
                rows.append(
                    _row(
                        f"{n:016x}",
                        trace,
                        root,
                        run_id,
                        sc.SPAN_SUBMIT,
                        sc.SPAN_SUBMIT,
                        aid,
                        r,
                        t + 950_000,
                        20_000,
                        thread=f"S{r}-{n}",
                    )
                )
        rows = rows[: max(0, target - have - added)]
        write_spans(store, run_id, rows)
        added += len(rows)
    return added, time.perf_counter() - t0


def _row(
    span_id: str,
    trace: str,
    parent: str,
    run_id: str,
    name: str,
    op: str,
    agent: str,
    round_: int,
    start: int,
    dur: int,
    model: str | None = None,
    tokens: tuple[int, int] | None = None,
    thread: str | None = None,
) -> dict:
    return {
        "span_id": span_id,
        "trace_id": trace,
        "parent_id": parent,
        "run_id": run_id,
        "name": name,
        "operation": op,
        "kind": "INTERNAL",
        "agent_id": agent,
        "round": round_,
        "thread_id": thread,
        "action_type": None,
        "verdict": "accepted" if thread else None,
        "rule": "ok" if thread else None,
        "model": model,
        "input_tokens": tokens[0] if tokens else None,
        "output_tokens": tokens[1] if tokens else None,
        "status": "OK",
        "status_message": None,
        "start_ns": start,
        "end_ns": start + dur,
        "duration_ns": dur,
        "attributes_json": json.dumps({"agora.synthetic": True}),
        "events_json": None,
        "links_json": None,
    }


def timed(fn: Callable[[], object], reps: int) -> tuple[float, float]:
    """Median and worst wall time in ms of ``fn`` with the query caches cleared before each call."""
    import streamlit as st

    times = []
    for _ in range(reps):
        st.cache_data.clear()
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times), max(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--spans", type=int, default=1_000_000)
    ap.add_argument("--rounds", type=int, default=1000)
    ap.add_argument("--db", default=None, help="SQLite file (default: a new temp file)")
    ap.add_argument("--reps", type=int, default=5)
    args = ap.parse_args()
    db = args.db or str(pathlib.Path(tempfile.mkdtemp(prefix="agora-ui-bench-")) / "bench.db")
    os.environ["AGORA_DB"] = db

    from sandbox.scenario import load_scenario
    from sandbox.session import Session
    from traces import read, trace_read
    from traces.spans import stored_count
    from traces.store import Store

    store = Store(db)
    run_id = "bench-ui"
    if read.run(store, run_id) is None:
        t0 = time.perf_counter()
        Session(load_scenario("services"), rounds=args.rounds, store=store, run_id=run_id).run()
        print(f"recorded run {run_id}: {args.rounds} rounds in {time.perf_counter() - t0:.1f} s")
    added, secs = synthetic_spans(store, run_id, args.spans)
    if added:
        print(f"added {added:,} synthetic spans in {secs:.1f} s ({added / secs:,.0f} spans/s)")
    total = stored_count(store, run_id)
    size = pathlib.Path(db).stat().st_size / 1e6
    print(f"store {db}: {total:,} spans in run {run_id}, {size:,.0f} MB\n")

    from ui import data

    t0 = time.perf_counter()
    data.store()  # the app's first open: audit indexes, and planner statistics where missing
    print(f"app's first open of the store (indexes, ANALYZE where missing): {time.perf_counter() - t0:.2f} s\n")
    txs = read.transactions(store, run_id)
    tx = data.transaction(run_id, txs[len(txs) // 2].tx_id)
    agent = tx["seller"]
    k = args.rounds // 2
    queries = [
        ("Runs", "runs table", lambda: data.runs()),
        ("Market", "rounds metrics", lambda: data.rounds(run_id)),
        ("Market", "prices by round", lambda: data.prices(run_id)),
        ("Market", "competitive bands", lambda: data.benchmarks(run_id)),
        ("Market", "trade network", lambda: data.trade_network(run_id)),
        ("Transactions", "page 1 (50 rows) + count", lambda: data.transactions_page(run_id, limit=50)),
        ("Transactions", "agent filter page + count", lambda: data.transactions_page(run_id, agent=agent, limit=50)),
        ("Transactions", "negotiation thread", lambda: data.thread(run_id, tx["thread"])),
        ("Transactions", "trace tree of one deal", lambda: data.trace_for(run_id, tx)),
        ("Transactions", "LLM calls behind it", lambda: data.llm_calls(run_id, [tx["buyer"], tx["seller"]], [k])),
        ("Agents", "agents", lambda: data.agents(run_id)),
        ("Agents", "balance over time", lambda: data.balance(run_id, agent)),
        ("Agents", "violations", lambda: data.violations(run_id, agent)),
        ("Agents", "actions page", lambda: data.actions(run_id, agent=agent, limit=100)),
        ("Agents", "breakers, alerts, reputation, tokens", lambda: data.agent_extras(run_id, agent)),
        ("Alerts", "alerts", lambda: data.alerts(run_id)),
        ("Incentives", "policy versions + commands", lambda: (data.policy_versions(run_id), data.commands(run_id))),
        ("Replay", f"balances at round {k}", lambda: data.balances_at(run_id, k)),
        ("Replay", f"actions of round {k}", lambda: data.actions(run_id, round_=k, limit=1000)),
        ("(spans)", "span page at offset 500,000", lambda: trace_read.spans(store, run_id, offset=500_000, limit=100)),
        ("(spans)", "count spans of the run", lambda: trace_read.count_spans(store, run_id)),
        ("(spans)", "one agent's chat spans", lambda: trace_read.llm_calls(store, run_id, agent)),
    ]
    print(f"{'page':13} {'query':38} {'median ms':>10} {'max ms':>8}")
    for page, what, fn in queries:
        med, worst = timed(fn, args.reps)
        print(f"{page:13} {what:38} {med:>10.1f} {worst:>8.1f}")

    from streamlit.testing.v1 import AppTest

    print(f"\nwhole pages rendered by AppTest (cold caches), {args.reps} runs each")
    print(f"{'page':13} {'median ms':>10} {'max ms':>8}")
    pages = {
        "runs": {},
        "market": {},
        "transactions": {"agora.tx.open": tx["tx"]},
        "agent_story": {"agora.agent": agent},
        "alerts": {},
        "incentives": {},
        "replay": {"agora.replay.round": k},
    }
    for name, state in pages.items():

        def render(name: str = name, state: dict = state) -> None:
            at = AppTest.from_file(str(ROOT / "ui" / "views" / f"{name}.py"), default_timeout=120)
            at.session_state["agora.run"] = run_id
            for key, v in state.items():
                at.session_state[key] = v
            at.run()
            assert not at.exception, [e.value for e in at.exception]

        med, worst = timed(render, args.reps)
        print(f"{name:13} {med:>10.1f} {worst:>8.1f}")


if __name__ == "__main__":
    main()
