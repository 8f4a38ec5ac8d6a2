"""Scale: a services market with tracing, time per round and peak memory against agent count.

Run: .venv/bin/python benchmarks/bench_scale.py [--agents 1000 10000] [--rounds 20] [--budget 1800]
     [--untraced]

The built-in ``services`` scenario (46 scripted agents: ZI-C and budget buyers, ZI-C and markup
sellers, two services) with every population scaled so the market has ``--agents`` agents,
run for ``--rounds`` rounds, traced into a SQLite store (``--untraced``: no tracing, no store).
Each agent count runs in a fresh process, so its peak memory (the process's maximum resident
set) is its own. Printed per count: seconds per round (wall and CPU, median over the rounds
played), the first and the last round, actions, peak memory; then how each grows from one count
to the next (the ratio of the figure over the ratio of agents: 1.0 is linear). A count that
passes ``--budget`` seconds is stopped, and the rounds it finished are what is printed.
Figures only; nothing here is asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

from sandbox.scenario import Scenario, load_scenario, parse_scenario
from sandbox.session import Session


def scaled_services(agents: int, rounds: int) -> Scenario:
    """The ``services`` scenario with each population scaled to about ``agents`` agents in all."""
    base = load_scenario("services").model_dump(mode="json")
    total = sum(p["n"] for p in base["population"])
    for p in base["population"]:
        p["n"] = max(1, round(p["n"] * agents / total))
    base["rounds"] = rounds
    return parse_scenario(base, f"services x{agents}")


def one(agents: int, rounds: int, traced: bool) -> None:
    """Run one count in this process; print one JSON line per round, then a summary line."""
    sc = scaled_services(agents, rounds)
    db = tempfile.mktemp(suffix=".db") if traced else None
    t0, c0 = time.perf_counter(), time.process_time()
    session = Session(sc, tracing=traced, store=db)
    print(json.dumps({"setup_wall": time.perf_counter() - t0, "agents": len(session.agents)}), flush=True)
    last = [time.perf_counter(), time.process_time()]

    def progress(done: int, total: int) -> None:
        w, c = time.perf_counter(), time.process_time()
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
        print(json.dumps({"round": done, "wall": w - last[0], "cpu": c - last[1], "peak_mib": rss}), flush=True)
        last[:] = [w, c]

    try:
        res = session.run(progress=progress)
    finally:
        for suffix in ("", "-wal", "-shm"):
            if db and os.path.exists(db + suffix):
                os.remove(db + suffix)
    print(
        json.dumps(
            {
                "done": True,
                "actions": res.summary["actions"],
                "transactions": res.summary["transactions"],
                "wall": time.perf_counter() - t0,
                "cpu": time.process_time() - c0,
                "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            }
        ),
        flush=True,
    )


def measure(agents: int, rounds: int, traced: bool, budget: float) -> dict[str, object]:
    """Run one count in a child process within ``budget`` seconds; what it printed, parsed."""
    cmd = [sys.executable, __file__, "--one", str(agents), "--rounds", str(rounds)] + ([] if traced else ["--untraced"])
    lines: list[dict[str, object]] = []
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    deadline = time.monotonic() + budget
    assert proc.stdout is not None
    stopped = False
    for line in proc.stdout:
        lines.append(json.loads(line))
        if time.monotonic() > deadline:
            proc.kill()
            stopped = True
            break
    proc.wait()
    rows = [x for x in lines if "round" in x]
    done = next((x for x in lines if x.get("done")), {})
    setup = next((x for x in lines if "setup_wall" in x), {})
    return {"agents": setup.get("agents", agents), "rounds": rows, "done": done, "stopped": stopped}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--agents", type=int, nargs="+", default=[1000, 10000])
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--budget", type=float, default=1800.0, help="seconds per agent count")
    ap.add_argument("--untraced", action="store_true")
    ap.add_argument("--one", type=int, help=argparse.SUPPRESS)  # the child: run one count
    a = ap.parse_args()
    if a.one:
        one(a.one, a.rounds, not a.untraced)
        return
    mode = "untraced, no store" if a.untraced else "traced into SQLite"
    print(
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; services market, {mode}, {a.rounds} rounds"
    )
    print(
        f"{'agents':>7} {'rounds':>6} {'wall s/round':>12} {'CPU s/round':>11} {'first':>7} {'last':>7} {'actions':>8} {'peak MiB':>9}"
    )
    results = []
    for n in a.agents:
        r = measure(n, a.rounds, not a.untraced, a.budget)
        rows = r["rounds"]
        assert isinstance(rows, list)
        if not rows:
            print(f"{n:>7} no round finished within {a.budget:.0f} s")
            continue
        wall = statistics.median(x["wall"] for x in rows)
        cpu = statistics.median(x["cpu"] for x in rows)
        peak = max(x["peak_mib"] for x in rows)
        done = r["done"]
        assert isinstance(done, dict)
        actions = done.get("actions", "-")
        note = " (stopped at the budget)" if r["stopped"] else ""
        print(
            f"{r['agents']:>7} {len(rows):>6} {wall:>12.3f} {cpu:>11.3f} {rows[0]['wall']:>7.2f} {rows[-1]['wall']:>7.2f}"
            f" {actions:>8} {peak:>9.0f}{note}"
        )
        results.append((r["agents"], wall, cpu, peak))
    for (n0, w0, c0, p0), (n1, w1, c1, p1) in zip(results, results[1:], strict=False):
        k = n1 / n0
        print(
            f"{n0} -> {n1} agents (x{k:.1f}): wall per round x{w1 / w0:.1f}, CPU per round x{c1 / c0:.1f}"
            f" ({c1 / c0 / k:.2f} of linear), peak memory x{p1 / p0:.1f}"
        )


if __name__ == "__main__":
    main()
