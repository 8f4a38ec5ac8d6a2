"""Page-data times of the Streamlit app on a store holding a run with one million spans and
100,000 deals, and a small run of LLM agents beside it.

Records a real services run (traced), then adds synthetic span rows to the same run in bulk
(agent turns with model calls and submissions under each round span, through
``traces.spans.write_spans``) until the run holds ``--spans`` spans, and synthetic deals
(a transaction, its offer and acceptance, its escrow and settlement postings) until it holds
``--deals``. A run of LLM agents on the offline stand-in model (``scripted/auto``) goes in the
same store, so opening one of its deals is timed against the big tables. Then it times, cold
(caches cleared before each call), every query each page makes through ``ui.data``, and
each whole page rendered by Streamlit's AppTest (one Replay step is the Replay page at a round).

    .venv/bin/python benchmarks/bench_ui_pages.py               # 1,000,000 spans, 100,000 deals, temp file
    .venv/bin/python benchmarks/bench_ui_pages.py --spans 200000 --deals 20000 --db ui-bench.db
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


def synthetic_deals(store, run_id: str, target: int) -> tuple[int, float]:
    """Add settled deals to ``run_id`` until it holds ``target``: each a transaction row, a
    make_offer and an accept action on its own thread, and three ledger postings (escrow in,
    seller paid, fee to the treasury). Returns (added, seconds)."""
    from sqlalchemy import func, insert, select

    from traces import read
    from traces.schema import ActionRow, LedgerEntryRow, TransactionRow

    t0 = time.perf_counter()
    with store.engine.connect() as conn:
        have = conn.execute(select(func.count()).where(TransactionRow.run_id == run_id)).scalar_one()
        next_tx = (
            conn.execute(select(func.max(TransactionRow.tx_id)).where(TransactionRow.run_id == run_id)).scalar() or 0
        ) + 1
        next_seq = (
            conn.execute(select(func.max(LedgerEntryRow.seq)).where(LedgerEntryRow.run_id == run_id)).scalar() or 0
        ) + 1
    need = max(0, target - have)
    agents = read.agents(store, run_id)
    buyers = [a.agent_id for a in agents if a.role == "buyer"]
    sellers = [a.agent_id for a in agents if a.role == "seller"]
    rounds = max(r.round for r in read.rounds(store, run_id))
    batch = 20_000
    for start in range(0, need, batch):
        txs, acts, ledger = [], [], []
        for i in range(start, min(need, start + batch)):
            tx, r = next_tx + i, 1 + i % rounds
            b, se, price = buyers[i % len(buyers)], sellers[(i * 7) % len(sellers)], 50_000_000 + (i % 97) * 100_000
            fee, thread = price // 50, f"Z{tx}"
            txs.append(
                {
                    "run_id": run_id,
                    "tx_id": tx,
                    "status": "settled",
                    "thread_id": thread,
                    "listing_id": f"ZL{i % 500}",
                    "service": "translation",
                    "buyer": b,
                    "seller": se,
                    "price": price,
                    "fee": fee,
                    "value": price + 5_000_000,
                    "cost": price - 5_000_000,
                    "quality": 1.0,
                    "score": 1.0,
                    "opened_round": r,
                    "accepted_round": r,
                    "settled_round": r,
                    "span_id": None,
                    "trace_id": None,
                }
            )
            for k, (who, kind) in enumerate(((b, "make_offer"), (se, "accept"))):
                acts.append(
                    {
                        "run_id": run_id,
                        "round": r,
                        "seq": 1_000_000 + 2 * i + k,
                        "agent_id": who,
                        "action_type": kind,
                        "thread_id": thread,
                        "payload": json.dumps({"price": price / 1e6}),
                        "accepted": True,
                        "rule": "ok",
                        "reason": "",
                        "span_id": None,
                    }
                )
            for k, (src, dst, amt, kind) in enumerate(
                (
                    (f"agent:{b}", "escrow", price, "escrow"),
                    ("escrow", f"agent:{se}", price - fee, "settle"),
                    ("escrow", "treasury", fee, "fee"),
                )
            ):
                ledger.append(
                    {
                        "run_id": run_id,
                        "seq": next_seq + 3 * i + k,
                        "round": r,
                        "source": src,
                        "dest": dst,
                        "amount": amt,
                        "kind": kind,
                        "ref": f"tx:{tx}",
                    }
                )
        with store.engine.begin() as conn:
            conn.execute(insert(TransactionRow), txs)
            conn.execute(insert(ActionRow), acts)
            conn.execute(insert(LedgerEntryRow), ledger)
    if need and store.is_sqlite:
        with store.engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE")  # statistics for the grown tables, as a long-lived store has
    return need, time.perf_counter() - t0


def llm_run(store, run_id: str) -> None:
    """A small services market of LLM agents on the offline stand-in model (scripted/auto), traced."""
    from sandbox.cli.llm import llm_scenario
    from sandbox.scenario import load_scenario
    from sandbox.session import Session

    scenario = llm_scenario(load_scenario("services"), "scripted/auto", {})
    buyer = next(s for s in scenario.population if s.role == "buyer" and s.service == "translation")
    seller = next(s for s in scenario.population if s.role == "seller" and s.service == "translation")
    buyer.n, seller.n = 2, 1
    scenario.population = [buyer, seller]
    Session(scenario, rounds=8, store=store, run_id=run_id).run()


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
    ap.add_argument("--deals", type=int, default=100_000)
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
    added, secs = synthetic_deals(store, run_id, args.deals)
    if added:
        print(f"added {added:,} synthetic deals in {secs:.1f} s")
    llm_id = "bench-llm"
    if read.run(store, llm_id) is None:
        llm_run(store, llm_id)
    total = stored_count(store, run_id)
    n_deals = len(read.transactions(store, run_id))
    size = pathlib.Path(db).stat().st_size / 1e6
    print(f"store {db}: {total:,} spans and {n_deals:,} deals in run {run_id}, {size:,.0f} MB\n")

    from ui import data

    t0 = time.perf_counter()
    data.store()  # the app's first open: audit indexes, and planner statistics where missing
    print(f"app's first open of the store (indexes, ANALYZE where missing): {time.perf_counter() - t0:.2f} s\n")
    txs = read.transactions(store, run_id)
    tx = data.transaction(run_id, txs[len(txs) // 2].tx_id)
    agent = tx["seller"]
    k = args.rounds // 2
    llm_tx = read.transactions(store, llm_id)[0].tx_id
    llm_deal = data.transaction(llm_id, llm_tx)
    llm_chat = data.deal_trace(llm_id, llm_tx).query("operation == 'chat'").iloc[0].to_dict()

    def open_llm_deal() -> None:
        thread = data.thread(llm_id, llm_deal["thread"])
        spans = data.deal_trace(llm_id, llm_tx)
        record = data.call_record(llm_id, llm_chat)
        data.messages(record)
        data.llm_calls(llm_id, [llm_deal["buyer"], llm_deal["seller"]], sorted(set(thread["round"])))
        assert not spans.empty and record is not None

    def replay_step() -> None:
        data.rounds(run_id)
        data.policy_versions(run_id)
        data.balances_at(run_id, k + 1)
        data.deals_in(run_id, k + 1)
        data.actions(run_id, round_=k + 1, limit=1000)

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
        ("Transactions", "open one deal of the LLM run", open_llm_deal),
        ("Trace", f"round {k} (every span)", lambda: data.round_trace(run_id, k)),
        ("Trace", f"one agent's turn in round {k}", lambda: data.turn_trace(run_id, agent, k)),
        ("Agents", "agents", lambda: data.agents(run_id)),
        ("Agents", "overview of every agent", lambda: data.agents_overview(run_id)),
        ("Agents", "balance over time", lambda: data.balance(run_id, agent)),
        ("Agents", "violations", lambda: data.violations(run_id, agent)),
        ("Agents", "actions page", lambda: data.actions(run_id, agent=agent, limit=100)),
        ("Agents", "breakers, alerts, reputation, tokens", lambda: data.agent_extras(run_id, agent)),
        ("Alerts", "alerts", lambda: data.alerts(run_id)),
        ("Incentives", "policy versions + commands", lambda: (data.policy_versions(run_id), data.commands(run_id))),
        ("Replay", f"balances at round {k}", lambda: data.balances_at(run_id, k)),
        ("Replay", f"actions of round {k}", lambda: data.actions(run_id, round_=k, limit=1000)),
        ("Replay", f"one step (to round {k + 1}), all of it", replay_step),
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
    from ui.pages import PAGES

    state = {
        "transactions": {"agora.tx.open": tx["tx"]},
        "agent_story": {"agora.agent": agent},
        "replay": {"agora.replay.round": k},
        "trace_view": {"agora.trace.scope": "a round", "trace.round": k},
    }
    renders = [(p.file, run_id, state.get(p.file, {})) for p in PAGES]
    renders.append(("transactions", llm_id, {"agora.tx.open": llm_tx, "agora.span": llm_chat["span_id"]}))
    for name, rid, st_state in renders:

        def render(name: str = name, rid: str = rid, st_state: dict = st_state) -> None:
            at = AppTest.from_file(str(ROOT / "ui" / "views" / f"{name}.py"), default_timeout=120)
            at.session_state["agora.run"] = rid
            for key, v in st_state.items():
                at.session_state[key] = v
            at.run()
            assert not at.exception, [e.value for e in at.exception]

        med, worst = timed(render, args.reps)
        label = name if rid == run_id else f"{name} ({rid}, a chat span open)"
        print(f"{label:13} {med:>10.1f} {worst:>8.1f}")


if __name__ == "__main__":
    main()
