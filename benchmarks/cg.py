"""Callgrind driver for the engine's instruction counts on the 200-trader double auction (load-immune figures).

Run from a tree's root (that tree first on ``PYTHONPATH``):

    PYTHONHASHSEED=0 valgrind --tool=callgrind python benchmarks/cg.py P u|t n|s

``P``: periods played after a one-period warm-up (0: the warm-up only); ``u``/``t``: untraced or traced;
``n``/``s``: no store or a SQLite store. Per order = (total at P=2 - total at P=0) / 4,000 orders
(``callgrind_annotate FILE | head`` prints the total). This is how docs/performance.md counts instructions.
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bench_engine import agora_run, da_scenario  # noqa: E402


def main() -> None:
    periods, traced, stored = int(sys.argv[1]), sys.argv[2] == "t", sys.argv[3] == "s"
    agora_run(da_scenario(200, 10, 1, 10), traced, stored)  # warm-up: imports, first validations, caches
    if periods:
        agora_run(da_scenario(200, 10, periods, 10), traced, stored)


if __name__ == "__main__":
    main()
