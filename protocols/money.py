"""Money as integers: the ledger counts micro-units so that the books balance exactly.

Agents speak in currency units (floats, e.g. ``12.5``); everything that moves money
converts once, here, with round-half-even, and then only adds and subtracts integers.
"""

from __future__ import annotations

import math

MICROS_PER_UNIT = 1_000_000


def to_micros(amount: float) -> int:
    """Convert a currency amount to integer micro-units (round half to even)."""
    if not math.isfinite(amount):
        raise ValueError(f"amount must be a finite number, got {amount!r}")
    return round(amount * MICROS_PER_UNIT)


def to_units(micros: int) -> float:
    """Convert integer micro-units back to currency units for display and agents."""
    return micros / MICROS_PER_UNIT


def share(micros: int, rate: float) -> int:
    """``rate`` of an amount, rounded to a whole micro-unit (half to even)."""
    return round(micros * rate)
