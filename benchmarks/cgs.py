"""Callgrind driver for the engine's instruction counts on the built-in services scenario.

Run from a tree's root (that tree first on ``PYTHONPATH``):

    PYTHONHASHSEED=0 valgrind --tool=callgrind python benchmarks/cgs.py R u|t n|s

``R``: 0 runs the scenario once (the warm-up), 1 runs it once more; ``u``/``t``: untraced or traced;
``n``/``s``: no store or a SQLite store. Per accepted action = (total at R=1 - total at R=0) / the accepted
actions it prints (803 at the time of writing). This is how docs/performance.md counts instructions.
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bench_engine import agora_run  # noqa: E402

from sandbox.scenario import load_scenario  # noqa: E402


def main() -> None:
    again, traced, stored = int(sys.argv[1]), sys.argv[2] == "t", sys.argv[3] == "s"
    scenario = load_scenario("services")
    out = agora_run(scenario, traced, stored)
    if again:
        out = agora_run(scenario, traced, stored)
    print(f"actions {out[0]}, accepted {out[1]}, transactions {out[2]}")


if __name__ == "__main__":
    main()
