"""Keep the garbage collector off what existed before a run while the run plays.

A run allocates many short-lived objects (observations, actions, verdicts, records), so
CPython's cyclic collector runs often, and each older-generation pass walks every tracked
object in the process: the modules, the scenario, the agents. ``gc.freeze()`` moves the
objects that exist at the start of a run to a permanent generation the collector skips;
``gc.unfreeze()`` gives them back when the last run in the process ends. While the run's
rounds play the collector is off; every ``COLLECT_EVERY``-th round's start (``round_start``)
gives what the rounds since the last pass made one pass of the youngest generation and freezes
what survives. Nothing a run computes changes (reference counting still frees what it frees;
cyclic garbage waits for the next pass, and cyclic garbage made before the run, or that becomes
garbage after the pass that froze it, waits until the run's end).
In the double auction of ``benchmarks/bench_engine.py`` freezing was about a quarter of the
untraced CPU; in a 10,000-agent market, collection was 41% of it (docs/performance-history.md).
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_active = 0
_held = False  # the collector is off because a run here switched it off (round_start)
_rounds = 0  # round starts seen while held

COLLECT_EVERY = 8
"""Rounds between two passes. Most of what a round keeps is gone a few rounds later (observations,
receipts, closed threads): a pass every round walked each survivor once, and found no garbage in
the scripted markets after the first round; a pass every 8 rounds walks what still lives then.
Measured (docs/performance-history.md, 2026-12-03): with a pass every round the 200-trader double auction
walked 1,461 objects a round, with a pass every 5 rounds 2.7 times fewer in all; a 10,000-agent
services market 45,823 a round, with a pass every 4 rounds 2.3 times fewer in all."""


def round_start() -> None:
    """At each round's start, inside ``frozen()``: the collector stays off while rounds play; every
    ``COLLECT_EVERY`` rounds what the rounds since the last pass made and kept gets one pass of
    the youngest generation (cyclic garbage goes) and is frozen with the rest.

    What a round keeps (threads, listings, ledger entries) mostly lives to the run's end. Left to
    the collector, a large market's round started several full passes, each walking everything
    the run had kept plus the round's observations: at 10,000 agents 42% of the run's CPU went to
    collection, against 21% at 1,000 (docs/performance-history.md). Here a round's temporaries are freed
    by reference counting before the pass, so it walks only what the round kept. Nothing a run
    computes changes; cyclic garbage waits for the next pass, and a cycle that becomes garbage
    after the pass that froze it for the run's end.
    """
    global _held, _rounds
    with _lock:
        if _held:
            _rounds += 1
            if _rounds % COLLECT_EVERY == 0:
                gc.collect(0)  # with the collector off, everything made since the last freeze is in generation 0
                gc.freeze()
        elif _active and gc.isenabled():
            gc.disable()
            _held, _rounds = True, 0


@contextmanager
def frozen() -> Iterator[None]:
    """Freeze what exists now for the duration; runs may nest or overlap (threads)."""
    global _active, _held
    with _lock:
        _active += 1
        gc.freeze()
    try:
        yield
    finally:
        with _lock:
            _active -= 1
            if _active == 0:
                if _held:
                    gc.enable()
                    _held = False
                gc.unfreeze()
