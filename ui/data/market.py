"""Per-round market data: metrics, prices, competitive benchmarks and who trades with whom."""

from __future__ import annotations

import json

import pandas as pd
import streamlit as st

from protocols.equilibrium import competitive_band
from traces import audit, read
from ui.data.core import LIVE_TTL, MICRO, cached_store, db_url


# --- market -------------------------------------------------------------------------------
@st.cache_data(ttl=LIVE_TTL, show_spinner=False)
def _rounds(url: str, run_id: str, last: int | None) -> pd.DataFrame:
    rows = audit.rounds_window(cached_store(url), run_id, last)
    out = []
    for r in rows:
        m = json.loads(r.metrics_json)
        # every numeric metric the mechanism reports (collusion index, dispersion, ...), then the core ones
        extra = {k: v for k, v in m.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
        out.append(
            {
                **extra,
                "round": r.round,
                "actions": r.n_actions,
                "rejected": r.n_rejected,
                "transactions": r.n_tx,
                "volume": r.volume / MICRO,
                "mean_price": r.mean_price,
                "efficiency": r.efficiency,
                "hhi": m.get("hhi"),
                "gini": m.get("gini"),
                "fees": m.get("fees", 0.0),
                "fines": m.get("fines", 0.0),
            }
        )
    return pd.DataFrame(out)


def rounds(run_id: str, last: int | None = None) -> pd.DataFrame:
    """Per-round metrics (the last ``last`` rounds when given): the core ones and every numeric one recorded."""
    return _rounds(db_url(), run_id, last)


@st.cache_data(ttl=LIVE_TTL, show_spinner=False)
def _prices(url: str, run_id: str) -> pd.DataFrame:
    rows = audit.prices_by_round(cached_store(url), run_id)
    return pd.DataFrame(
        [{"round": r, "service": s, "deals": n, "mean_price": p / MICRO} for r, s, n, p in rows],
        columns=["round", "service", "deals", "mean_price"],
    )


def prices(run_id: str) -> pd.DataFrame:
    """Mean settled price per round and service."""
    return _prices(db_url(), run_id)


@st.cache_data(ttl=600, show_spinner=False)
def _benchmarks(url: str, run_id: str) -> dict[str, tuple[float, float]]:
    values: dict[str, list[float]] = {}
    costs: dict[str, list[float]] = {}
    for a in read.agents(cached_store(url), run_id):
        private = json.loads(a.private_json)
        for service, v in (private.get("values") or {}).items():
            values.setdefault(service, []).extend([float(v)] * int(private.get("demand", 1)))
        for service, c in (private.get("costs") or {}).items():
            costs.setdefault(service, []).extend([float(c)] * int(private.get("capacity", 1)))
    return {s: band for s in values if (band := competitive_band(values[s], costs.get(s, []))) is not None}


def benchmarks(run_id: str) -> dict[str, tuple[float, float]]:
    """Competitive price band per service, from the agents' private values and costs."""
    return _benchmarks(db_url(), run_id)


@st.cache_data(ttl=LIVE_TTL, show_spinner=False)
def _network(url: str, run_id: str, limit: int) -> pd.DataFrame:
    rows = audit.trade_pairs(cached_store(url), run_id, limit)
    return pd.DataFrame(
        [{"buyer": b, "seller": s, "deals": n, "volume": v / MICRO} for b, s, n, v in rows],
        columns=["buyer", "seller", "deals", "volume"],
    )


def trade_network(run_id: str, limit: int = 300) -> pd.DataFrame:
    """Who trades with whom: one row per buyer-seller pair with deals and volume."""
    return _network(db_url(), run_id, limit)
