"""A dead OTLP collector must cost a run nothing measurable: the scripted demo with / without an endpoint.

Runs ``agora demo`` (the scripted services market, 40 rounds, a fresh SQLite file each time) as
a whole process, alternating A (``OTEL_EXPORTER_OTLP_ENDPOINT`` at a closed loopback port) and
B (no endpoint), and prints the median wall and CPU times and the median of the pair-by-pair
ratios A/B. Target: wall ratio <= 1.05. Also prints what A reported about the spans it could
not send (once per run).

    python benchmarks/bench_otlp.py [--pairs 7] [--protocol http/protobuf|grpc] [--in-process]

``--in-process`` runs the same market in this process instead (no interpreter start-up in the
figures) and adds CPU time of all threads (``time.process_time``), which a loaded machine
disturbs less than wall time.
"""

from __future__ import annotations

import argparse
import os
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_demo(db: Path, env: dict[str, str]) -> tuple[float, float, str]:
    """(wall s, CPU s of the child, its stderr+stdout) for one ``agora demo``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-m", "sandbox.cli", "demo", "--db", str(db)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, out.stdout + out.stderr


def in_process(pairs: int, protocol: str) -> None:
    """A/B inside one process: the services market with a dead collector / without one."""
    from sandbox import Session, load_scenario
    from traces.otel import setup_tracing
    from traces.store import Store

    url = f"http://127.0.0.1:{closed_port()}"
    walls: dict[str, list[float]] = {"A": [], "B": []}
    cpus: dict[str, list[float]] = {"A": [], "B": []}
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(pairs + 1):  # the first pair warms up and is not counted
            for side in ("A", "B"):
                store = Store(str(Path(tmp) / f"{side}{i}.db"))
                tracing = setup_tracing(store, otlp_endpoint=url, otlp_protocol=protocol) if side == "A" else None
                s = Session(load_scenario("services"), store=store, tracing=tracing)
                w0, c0 = time.perf_counter(), time.process_time()
                s.run()
                if i:
                    walls[side].append(time.perf_counter() - w0)
                    cpus[side].append(time.process_time() - c0)
    med = statistics.median
    wr = [a / b for a, b in zip(walls["A"], walls["B"], strict=True)]
    cr = [a / b for a, b in zip(cpus["A"], cpus["B"], strict=True)]
    print(f"in process, {pairs} pairs, load average {os.getloadavg()[0]:.1f}")
    print(f"A dead collector ({protocol}): wall {med(walls['A']):.3f} s  cpu {med(cpus['A']):.3f} s")
    print(f"B no endpoint:                 wall {med(walls['B']):.3f} s  cpu {med(cpus['B']):.3f} s")
    print(f"A/B wall ratio (median of pairs): {med(wr):.3f}  [min {min(wr):.3f}, max {max(wr):.3f}]")
    print(f"A/B cpu ratio  (median of pairs): {med(cr):.3f}  [min {min(cr):.3f}, max {max(cr):.3f}]")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pairs", type=int, default=7)
    ap.add_argument("--protocol", default="http/protobuf", choices=["http/protobuf", "grpc"])
    ap.add_argument("--in-process", action="store_true")
    args = ap.parse_args()
    if args.in_process:
        in_process(args.pairs, args.protocol)
        return
    base = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_EXPORTER_OTLP")}
    dead = {
        **base,
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{closed_port()}",
        "OTEL_EXPORTER_OTLP_PROTOCOL": args.protocol,
    }
    a_wall, b_wall, a_cpu, b_cpu, ratios, cpu_ratios = [], [], [], [], [], []
    report = ""
    with tempfile.TemporaryDirectory() as tmp:
        run_demo(Path(tmp) / "warm.db", base)  # warm the file cache for both
        for i in range(args.pairs):
            wa, ca, out = run_demo(Path(tmp) / f"a{i}.db", dead)
            wb, cb, _ = run_demo(Path(tmp) / f"b{i}.db", base)
            a_wall.append(wa), b_wall.append(wb), a_cpu.append(ca), b_cpu.append(cb)
            ratios.append(wa / wb), cpu_ratios.append(ca / cb)
            report = next((ln for ln in out.splitlines() if "OTLP collector" in ln), "(no report line)")
    med = statistics.median
    print(f"agora demo, {args.pairs} pairs A B A B ..., load average {os.getloadavg()[0]:.1f}")
    print(f"A dead collector ({args.protocol}): wall {med(a_wall):.3f} s  cpu {med(a_cpu):.3f} s")
    print(f"B no endpoint:                 wall {med(b_wall):.3f} s  cpu {med(b_cpu):.3f} s")
    print(f"A/B wall ratio (median of pairs): {med(ratios):.3f}  [min {min(ratios):.3f}, max {max(ratios):.3f}]")
    print(f"A/B cpu ratio  (median of pairs): {med(cpu_ratios):.3f}")
    print(f"A's report: {report}")


if __name__ == "__main__":
    main()
