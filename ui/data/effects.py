"""The last sweep's measured effect of each policy field, for the Incentives page.

For every parameter a sweep of the run's scenario varied, the mean of a few summary metrics
at its lowest and at its highest value (over seeds and the other parameters), as one line
to show next to that field of the policy form.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from traces.sweeps import last_sweep_of
from ui.data.core import LIVE_TTL, cached_store, db_url

METRICS = ("transactions", "volume", "violations", "quality")


def _mean(xs: list[float]) -> float | None:
    return sum(xs) / len(xs) if xs else None


def _order(value: Any) -> tuple[int, float, str]:
    """Numbers by value (a YAML grid mixes 0 and 0.5), anything else after them by its text."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return (0, float(value), "")
    return (1, 0.0, str(value))


def effect_lines(sweep_id: str, runs: list[tuple[dict[str, Any], dict[str, Any]]]) -> dict[str, str]:
    """Form label -> 'last sweep S: key a -> b: metric x -> y, ...' for each swept policy field."""
    out: dict[str, str] = {}
    keys = sorted({k for params, _ in runs for k in params})
    for key in keys:
        values = sorted({params[key] for params, _ in runs if key in params}, key=_order)
        if len(values) < 2:
            continue
        lo, hi = values[0], values[-1]
        parts = []
        for m in METRICS:
            a = _mean([s[m] for p, s in runs if p.get(key) == lo and isinstance(s.get(m), (int, float))])
            b = _mean([s[m] for p, s in runs if p.get(key) == hi and isinstance(s.get(m), (int, float))])
            if a is None or b is None or (a == 0 and b == 0):
                continue
            parts.append(f"{m} {a:,.3g} -> {b:,.3g}")
        if parts:
            label = "fines" if key.startswith("fines.") else key  # fines are edited as one JSON field
            line = f"last sweep {sweep_id}: {key} {lo} -> {hi}: " + ", ".join(parts)
            out[label] = f"{out[label]}; {line}" if label in out else line
    return out


@st.cache_data(ttl=LIVE_TTL, show_spinner=False)
def _effects(url: str, scenario: str) -> dict[str, str]:
    found = last_sweep_of(cached_store(url), scenario)
    return effect_lines(*found) if found else {}


def measured_effects(scenario: str) -> dict[str, str]:
    """The last sweep of ``scenario``'s measured effect per policy field (empty if none was run)."""
    return _effects(db_url(), scenario)
