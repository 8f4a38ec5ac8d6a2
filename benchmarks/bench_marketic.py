"""How fast a marketic society runs: episodes and auctions per second, unrecorded and recorded.

.venv/bin/python benchmarks/bench_marketic.py
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from sandbox.marketic import MarketicConfig, run_marketic
from traces.store import Store


def bench(task: str, episodes: int, store: Store | None, tracing: bool) -> tuple[float, int]:
    t0 = time.perf_counter()
    result = run_marketic(MarketicConfig(task=task, rule="ccv", episodes=episodes), store, tracing=tracing)
    return time.perf_counter() - t0, sum(m["steps"] for m in result.history)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        for task in ("chain", "grid"):
            for label, store, tracing in (
                ("in memory", None, False),
                ("SQLite, no spans", Store(str(Path(tmp) / f"{task}-a.db")), False),
                ("SQLite + spans", Store(str(Path(tmp) / f"{task}-b.db")), True),
            ):
                secs, steps = bench(task, 300, store, tracing)
                print(
                    f"{task:5} {label:17} 300 episodes, {steps:5} auctions: {secs:6.2f} s "
                    f"({300 / secs:7.0f} episodes/s, {steps / secs:7.0f} auctions/s)"
                )


if __name__ == "__main__":
    main()
