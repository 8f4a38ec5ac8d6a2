"""Keep the garbage collector off what existed before a run while the run plays.

A run allocates many short-lived objects (observations, actions, verdicts, records), so
CPython's cyclic collector runs often, and each older-generation pass walks every tracked
object in the process: the modules, the scenario, the agents. ``gc.freeze()`` moves the
objects that exist at the start of a run to a permanent generation the collector skips;
``gc.unfreeze()`` gives them back when the last run in the process ends. Nothing a run
computes changes (reference counting still frees what it frees; only cyclic garbage made
before the run waits until its end). In the double auction of ``benchmarks/bench_engine.py``
this is about a quarter of the untraced CPU (docs/performance.md).
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_active = 0


@contextmanager
def frozen() -> Iterator[None]:
    """Freeze what exists now for the duration; runs may nest or overlap (threads)."""
    global _active
    with _lock:
        _active += 1
        gc.freeze()
    try:
        yield
    finally:
        with _lock:
            _active -= 1
            if _active == 0:
                gc.unfreeze()
