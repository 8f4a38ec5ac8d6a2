"""Throughput of the round loop with scripted agents: actions per second, store off vs on.

Run: .venv/bin/python benchmarks/bench_round_loop.py [--agents 400] [--rounds 40]
Prints actions/s without a store and with a SQLite store, and their ratio, measured in one run.
"""

from __future__ import annotations

import argparse
import tempfile
import time

from agents import ZIC
from sandbox import Session


def build(n: int, rounds: int, store: str | None) -> Session:
    s = Session(seed=1, rounds=rounds, store=store)
    s.spawn(ZIC, n=n // 4, role="seller", service="svc", cost=(5, 60), capacity=4)
    s.spawn(ZIC, n=n - n // 4, role="buyer", service="svc", budget=500, value=(20, 120), demand=2)
    return s


def measure(n: int, rounds: int, store: str | None) -> tuple[float, int]:
    s = build(n, rounds, store)
    t0, c0 = time.perf_counter(), time.process_time()
    res = s.run()
    CPU.append(time.process_time() - c0)
    return time.perf_counter() - t0, res.summary["actions"]


CPU: list[float] = []  # CPU seconds of each measured run (steadier than wall time on a loaded machine)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--agents", type=int, default=400)
    ap.add_argument("--rounds", type=int, default=40)
    a = ap.parse_args()
    measure(50, 3, None)  # warm-up (imports, first pydantic validations)
    t_mem, n_mem = measure(a.agents, a.rounds, None)
    with tempfile.TemporaryDirectory() as d:
        t_db, n_db = measure(a.agents, a.rounds, f"{d}/bench.db")
    print(f"agents={a.agents} rounds={a.rounds}")
    print(
        f"no store : {n_mem} actions in {t_mem:.3f} s = {n_mem / t_mem:,.0f} actions/s ({t_mem / n_mem * 1e6:.1f} us/action, everything included)"
    )
    print(
        f"SQLite   : {n_db} actions in {t_db:.3f} s = {n_db / t_db:,.0f} actions/s ({t_db / n_db * 1e6:.1f} us/action)"
    )
    print(f"store cost ratio (SQLite time / no-store time): {t_db / t_mem:.2f}")
    print(f"CPU time per action: no store {CPU[1] / n_mem * 1e6:.1f} us, SQLite {CPU[2] / n_db * 1e6:.1f} us")


if __name__ == "__main__":
    main()
