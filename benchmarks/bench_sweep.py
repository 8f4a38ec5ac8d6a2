"""A sweep of 16 runs (4 fee rates x 4 seeds of the services market): local processes vs Ray.

Run: .venv/bin/python benchmarks/bench_sweep.py [--rounds 40] [--workers 2] [--no-trace]
Prints the wall time of the same sweep on each executor (Ray's includes starting its local
cluster, measured separately too) and runs per second. Both merge per-run SQLite records
into one store file.
"""

from __future__ import annotations

import argparse
import importlib.util
import tempfile
import time

from sandbox import load_scenario
from sandbox.sweep import SweepSpec, run_sweep


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=40)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--no-trace", action="store_true", help="runs record no spans (trace: false)")
    a = ap.parse_args()
    spec = SweepSpec.model_validate(
        {
            "name": "bench",
            "scenario": "services",
            "rounds": a.rounds,
            "seeds": 4,
            "grid": {"fee_rate": [0.0, 0.02, 0.05, 0.1]},
            "metrics": ["transactions", "efficiency"],
            "trace": not a.no_trace,
        }
    )
    scenario = load_scenario("services")
    executors = ["local"] + (["ray"] if importlib.util.find_spec("ray") else [])
    print(
        f"sweep: 16 runs of the services market ({len(scenario.population)} populations, {a.rounds} rounds), workers={a.workers}, spans {'off' if a.no_trace else 'on'}"
    )
    for ex in executors:
        with tempfile.TemporaryDirectory() as d:
            t0 = time.perf_counter()
            result = run_sweep(spec, scenario, store=f"{d}/sweep.db", executor=ex, workers=a.workers)
            dt = time.perf_counter() - t0
        ok = sum(r["status"] == "finished" for r in result.runs)
        print(f"{ex:>5}: {dt:6.2f} s for {ok}/{len(result.runs)} runs ({ok / dt:.2f} runs/s)")
    if "ray" in executors:
        import ray

        t0 = time.perf_counter()
        ray.init(num_cpus=a.workers, include_dashboard=False, log_to_driver=False, configure_logging=False)
        t_init = time.perf_counter() - t0
        ray.shutdown()
        print(f"  (of Ray's time, about {t_init:.2f} s is starting the local cluster)")
    else:
        print("  ray: not installed (pip install 'agora-sandbox[ray]')")


if __name__ == "__main__":
    main()
