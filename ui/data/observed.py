"""What tracing, the LLM agents and the safety layer record: traces, model calls, breakers, alerts."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from protocols.policy import IncentivePolicy
from traces import audit
from traces.agent_stats import seller_scores
from ui.data.core import LIVE_TTL, cached_store, clear, db_url, store
from ui.data.records import action_frame, tx_dict
from ui.data.spans import deal_trace


# --- traces, LLM calls, safety and replay ----------------------------------------------------
def trace_for(run_id: str, tx: dict[str, Any]) -> pd.DataFrame:
    """The spans behind a transaction depth-first (with depth), without the run's root span."""
    return deal_trace(run_id, int(tx["tx"]))


def _calls_df(rows: Any) -> pd.DataFrame:
    cols = [
        "round",
        "agent",
        "seq",
        "attempt",
        "event",
        "model",
        "prompt_tokens",
        "completion_tokens",
        "cost_usd",
        "latency_ms",
        "fault",
        "error",
        "prompt",
        "completion",
    ]
    return pd.DataFrame(
        [
            {
                "round": c.round,
                "agent": c.agent_id,
                "seq": c.seq,
                "attempt": c.attempt,
                "event": c.event,
                "model": c.model,
                "prompt_tokens": c.prompt_tokens,
                "completion_tokens": c.completion_tokens,
                "cost_usd": c.cost_usd,
                "latency_ms": c.latency_ms,
                "fault": c.fault,
                "error": c.error,
                "prompt": c.messages_json,
                "completion": c.response_json,
            }
            for c in rows
        ],
        columns=cols,
    )


@st.cache_data(ttl=LIVE_TTL, show_spinner=False)
def _llm_calls(
    url: str, run_id: str, agents: tuple[str, ...], rounds: tuple[int, ...] | None, offset: int
) -> pd.DataFrame:
    return _calls_df(audit.llm_calls_of(cached_store(url), run_id, agents, rounds, offset=offset, limit=100))


def llm_calls(run_id: str, agents: list[str], rounds: list[int] | None = None, offset: int = 0) -> pd.DataFrame:
    """A page of model calls (prompt, completion, tokens, cost, latency, fault) of some agents."""
    return _llm_calls(db_url(), run_id, tuple(agents), None if rounds is None else tuple(rounds), offset)


@st.cache_data(ttl=LIVE_TTL, show_spinner=False)
def _agent_extras(url: str, run_id: str, agent_id: str) -> dict[str, Any]:
    from protocols.settlement import update_reputation
    from traces import alerts as al

    s = cached_store(url)
    out: dict[str, Any] = {"llm": audit.llm_usage(s, run_id, agent_id)}
    events = al.breaker_events(s, run_id, subject=agent_id)
    out["breaker"] = events[-1].after if events else "closed"
    out["breaker_events"] = pd.DataFrame([e.model_dump() for e in events])
    out["interventions"] = pd.DataFrame([i.model_dump() for i in al.interventions(s, run_id, agent_id)])
    out["alerts"] = len(al.alerts(s, run_id, agent=agent_id))
    versions = [(v.round, IncentivePolicy.model_validate_json(v.policy_json)) for v in audit.policy_versions(s, run_id)]
    rep = None
    for settled_round, score in seller_scores(s, run_id, agent_id) if versions else []:
        policy = [p for r, p in versions if r <= settled_round][-1:] or [versions[0][1]]
        rep = update_reputation(rep, score, policy[0])
    out["reputation"] = rep
    return out


def agent_extras(run_id: str, agent_id: str) -> dict[str, Any]:
    """Breaker state and events, interventions, alerts, model use, and reputation recomputed from reports."""
    return _agent_extras(db_url(), run_id, agent_id)


@st.cache_data(ttl=LIVE_TTL, show_spinner=False)
def _alerts(url: str, run_id: str) -> pd.DataFrame:
    from traces import alerts as al

    rows = al.alerts(cached_store(url), run_id)
    cols = [
        "alert",
        "round",
        "kind",
        "severity",
        "status",
        "auto",
        "agents",
        "summary",
        "decision",
        "decided_by",
        "decided_round",
        "decision_reason",
        "window",
        "evidence",
        "interventions",
    ]
    return pd.DataFrame(
        [
            {
                "alert": a.alert_id,
                "round": a.round,
                "kind": a.kind,
                "severity": a.severity,
                "status": a.status,
                "auto": a.auto,
                "agents": ", ".join(a.agents),
                "summary": a.summary,
                "decision": a.decision,
                "decided_by": a.decided_by,
                "decided_round": a.decided_round,
                "decision_reason": a.decision_reason,
                "window": f"{a.window_start}-{a.window_end}",
                "evidence": a.evidence_json,
                "interventions": a.interventions_json,
            }
            for a in rows
        ],
        columns=cols,
    )


def alerts(run_id: str) -> pd.DataFrame:
    """Every alert of a run in the order raised, with its review state."""
    return _alerts(db_url(), run_id)


def alert_records(run_id: str, refs: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The actions and transactions an alert's evidence points to."""
    acts, deals = audit.records(store(), run_id, refs)
    return action_frame(acts), pd.DataFrame([tx_dict(t) for t in deals])


def submit_review(run_id: str, alert_id: str, decision: str, author: str, reason: str, amount: float | None) -> int:
    """Write a ``review_alert`` command; the live session applies it at its next round."""
    from traces import alerts as al

    command_id = al.request_review(store(), run_id, alert_id, decision, author, reason, amount)
    clear()
    return command_id
