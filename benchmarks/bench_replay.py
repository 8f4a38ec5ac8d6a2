"""An LLM-agent run against the loopback stand-in server (200 ms latency), then its replay.

Run: .venv/bin/python benchmarks/bench_replay.py [--llm 20] [--scripted 20] [--rounds 10] [--latency 0.2]
     .venv/bin/python benchmarks/bench_replay.py --demo [--db agora.db --run RUN_ID]

``--demo`` replays an ``agora demo --llm`` record (46 LLM agents on the stand-in, 40 rounds; made in
a temporary directory unless ``--db``/``--run`` name one) and prints seconds per 100 calls: the
first replay in the process (as ``agora replay`` runs it: the libraries it needs load during it)
and a second one, wall and CPU, with the load average.
Prints the original run's wall time, the replay's, their ratio, the replay's time per 100 calls (all in,
and the lookups in the record alone), the tokens the original
spent, the tokens the replay spent (requests the server saw during the replay, and the
token counts the replay would have had to pay for) and whether the replay was identical.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time

from agents.llm import ModelServer, ServerFaults
from sandbox import Session
from sandbox.replay import Replayer, replay
from sandbox.scenario import parse_scenario
from traces import Store


def scenario(n_llm: int, n_scripted: int, rounds: int, api_base: str) -> dict:
    llm = {"model": "openai/gpt-4o-mini", "api_base": api_base, "api_key": "stand-in", "max_in_flight": 64}
    half, rest = n_llm // 2, n_llm - n_llm // 2
    return {
        "name": "bench-replay",
        "seed": 3,
        "rounds": rounds,
        "market": {"min_price": 1.0, "max_price": 200.0},
        "population": [
            {
                "agent": "llm",
                "n": rest,
                "role": "buyer",
                "service": "translation",
                "budget": 400,
                "value": [40, 160],
                "demand": 2,
                "params": {**llm, "persona": "bargain_hunter"},
            },
            {
                "agent": "llm",
                "n": half,
                "role": "seller",
                "service": "translation",
                "cost": [20, 120],
                "capacity": 4,
                "params": llm,
            },
            {
                "agent": "zi_c",
                "n": n_scripted // 2,
                "role": "buyer",
                "service": "translation",
                "budget": 400,
                "value": [40, 160],
                "demand": 2,
            },
            {
                "agent": "zi_c",
                "n": n_scripted - n_scripted // 2,
                "role": "seller",
                "service": "translation",
                "cost": [20, 120],
                "capacity": 4,
            },
        ],
    }


def demo(db: str | None, run_id: str | None, repeats: int) -> None:
    """Replay an ``agora demo --llm`` record; print seconds per 100 calls (see the module docstring)."""
    with tempfile.TemporaryDirectory() as d:
        if db is None or run_id is None:
            from sandbox.cli.llm import llm_scenario
            from sandbox.scenario import load_scenario

            db = f"{d}/demo.db"
            scenario = llm_scenario(load_scenario("services"), "scripted/auto", {"max_in_flight": 64})
            run_id = Session(scenario, store=Store(db)).run().run_id
            print(f"recorded {run_id} (agora demo --llm) in a temporary store")
        store = Store(db)
        for i in range(repeats):
            t0, c0 = time.perf_counter(), time.process_time()
            report = replay(run_id, store)
            wall, cpu = time.perf_counter() - t0, time.process_time() - c0
            served = max(1, report.llm_calls_served)
            print(
                f"replay {i + 1}{' (first in the process)' if i == 0 else ''}: {report.llm_calls_served} calls, "
                f"{wall / served * 100:.3f} s wall, {cpu / served * 100:.3f} s CPU per 100 calls "
                f"({wall:.2f} s wall, {cpu:.2f} s CPU); load average {os.getloadavg()[0]:.1f}; {report}"
            )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--demo", action="store_true", help="replay an agora demo --llm record instead")
    ap.add_argument("--db", help="with --demo: the store holding the record (default: record one now)")
    ap.add_argument("--run", help="with --demo: the run id of the record")
    ap.add_argument("--repeats", type=int, default=2, help="with --demo: replays in the process")
    ap.add_argument("--llm", type=int, default=20)
    ap.add_argument("--scripted", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--latency", type=float, default=0.2)
    a = ap.parse_args()
    if a.demo:
        demo(a.db, a.run, a.repeats)
        return
    with ModelServer(ServerFaults(latency=a.latency)) as server, tempfile.TemporaryDirectory() as d:
        store = Store(f"{d}/bench.db")
        # warm-up: imports, the tokenizer and litellm's first call, outside the timings
        Session(parse_scenario(scenario(2, 2, 1, server.url)), store=None).run()
        session = Session(parse_scenario(scenario(a.llm, a.scripted, a.rounds, server.url)), store=store)
        server.reset_stats()
        t0 = time.perf_counter()
        result = session.run()
        t_run = time.perf_counter() - t0
        requests_run = server.stats["requests"]
        with store.engine.connect() as conn:
            from sqlalchemy import text

            calls, prompt, completion = conn.execute(
                text(
                    "select count(*), coalesce(sum(prompt_tokens),0), coalesce(sum(completion_tokens),0) from llm_calls "
                    "where run_id=:r and event='call'"
                ),
                {"r": result.run_id},
            ).one()
        server.reset_stats()
        t0, c0 = time.perf_counter(), time.process_time()
        report = replay(result.run_id, store)
        t_replay, cpu_replay = time.perf_counter() - t0, time.process_time() - c0
        requests_replay = server.stats["requests"]
        # once more through the Replayer, to read the time the record's lookups took
        rp = Replayer(store, result.run_id)
        try:
            asyncio.run(rp.replay_to(rp.source.rounds_done))
            lookup = rp.model.lookup_seconds if rp.model is not None else 0.0
        finally:
            rp.close()
    print(f"agents: {a.llm} LLM + {a.scripted} scripted, rounds={a.rounds}, model latency={a.latency * 1000:.0f} ms")
    print(
        f"original run : {t_run:.2f} s, {requests_run} model requests, {calls} recorded calls, "
        f"{prompt} prompt + {completion} completion tokens, {result.summary['transactions']} transactions"
    )
    print(
        f"replay       : {t_replay:.2f} s, {report.llm_calls_served} calls served from the record, "
        f"{requests_replay} requests reached the model server"
    )
    print(
        f"tokens spent by the replay: {'0' if requests_replay == 0 else f'unknown: {requests_replay} requests were made'}"
    )
    print(f"original / replay time: {t_run / t_replay:.1f}x")
    served = max(1, report.llm_calls_served)
    print(
        f"replay per 100 LLM calls: {t_replay / served * 100:.3f} s wall, {cpu_replay / served * 100:.3f} s CPU "
        f"all in (the session re-executed, the graph, the lookups, the checks); "
        f"the record's lookups {lookup / served * 100 * 1000:.2f} ms of it; "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    print(f"replay result: {report}")


if __name__ == "__main__":
    main()
