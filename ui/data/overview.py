"""The agents overview: every agent of a run with its figures, most suspicious first."""

from __future__ import annotations

import json

import pandas as pd
import streamlit as st

from traces.agent_stats import agent_overview
from ui.data.core import LIVE_TTL, MICRO, cached_store, db_url
from ui.data.records import agents

COLUMNS = [
    "agent",
    "role",
    "type",
    "pnl",
    "balance",
    "deals",
    "violations",
    "alerts",
    "breaker",
    "llm_calls",
    "tokens_in",
    "tokens_out",
    "cost_usd",
    "suspicion",
]


@st.cache_data(ttl=LIVE_TTL, show_spinner=False)
def _overview(url: str, run_id: str) -> pd.DataFrame:
    stats = agent_overview(cached_store(url), run_id)
    rows = []
    for a in agents(run_id).itertuples(index=False):
        s = stats.get(a.agent, {})
        params = json.loads(a.params or "{}")
        balance = s.get("balance", 0) / MICRO
        breaker = s.get("breaker", "closed")
        rows.append(
            {
                "agent": a.agent,
                "role": a.role,
                "type": f"{a.kind} ({params['model']})" if params.get("model") else a.kind,
                "pnl": balance - float(a.endowment),
                "balance": balance,
                "deals": s.get("deals", 0),
                "violations": s.get("violations", 0),
                "alerts": s.get("alerts", 0),
                "breaker": breaker,
                "llm_calls": s.get("llm_calls", 0),
                "tokens_in": s.get("input_tokens", 0),
                "tokens_out": s.get("output_tokens", 0),
                "cost_usd": s.get("cost_usd", 0.0),
                # what an auditor looks at first: alerts, a tripped breaker, then rule violations
                "suspicion": 100 * s.get("alerts", 0) + 50 * (breaker != "closed") + s.get("violations", 0),
            }
        )
    df = pd.DataFrame(rows, columns=COLUMNS)
    return df.sort_values(["suspicion", "agent"], ascending=[False, True], kind="stable").reset_index(drop=True)


def agents_overview(run_id: str) -> pd.DataFrame:
    """Every agent with role, type/model, profit and loss, deals, violations, alerts, breaker, tokens
    and cost, sorted most suspicious first (alerts, then a breaker not closed, then violations)."""
    return _overview(db_url(), run_id)
