"""The audit records: transactions, negotiation threads, agents, actions and balances by round."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from traces import audit, read
from ui.data.core import LIVE_TTL, MICRO, cached_store, db_url, store


# --- transactions -------------------------------------------------------------------------
def tx_dict(t: Any) -> dict[str, Any]:
    return {
        "tx": t.tx_id,
        "status": t.status,
        "service": t.service,
        "buyer": t.buyer,
        "seller": t.seller,
        "price": t.price / MICRO,
        "fee": t.fee / MICRO,
        "surplus": (t.value - t.cost) / MICRO if t.status == "settled" else 0.0,
        "opened": t.opened_round,
        "accepted": t.accepted_round,
        "settled": t.settled_round,
        "thread": t.thread_id,
        "listing": t.listing_id,
        "quality": t.quality,
        "score": t.score,
        "span_id": t.span_id,
        "trace_id": t.trace_id,
    }


@st.cache_data(ttl=LIVE_TTL, show_spinner=False)
def _tx_page(url: str, run_id: str, filt: tuple[Any, ...], offset: int, limit: int) -> tuple[pd.DataFrame, int]:
    f = audit.TxFilter(*filt)
    s = cached_store(url)
    rows = audit.find_transactions(s, run_id, f, offset=offset, limit=limit)
    return pd.DataFrame([tx_dict(t) for t in rows]), audit.count_transactions(s, run_id, f)


def transactions_page(
    run_id: str,
    *,
    status: str | None = None,
    service: str | None = None,
    agent: str | None = None,
    round_min: int | None = None,
    round_max: int | None = None,
    price_min: float | None = None,
    price_max: float | None = None,
    offset: int = 0,
    limit: int = 50,
) -> tuple[pd.DataFrame, int]:
    """One page of the audit table and how many transactions match the filter in all."""
    micros = [None if p is None else round(p * MICRO) for p in (price_min, price_max)]
    filt = (status, service, agent or None, round_min, round_max, *micros)
    return _tx_page(db_url(), run_id, filt, offset, limit)


@st.cache_data(ttl=60, show_spinner=False)
def _services(url: str, run_id: str) -> list[str]:
    return audit.services(cached_store(url), run_id)


def services(run_id: str) -> list[str]:
    """Services traded in a run."""
    return _services(db_url(), run_id)


def transaction(run_id: str, tx_id: int) -> dict[str, Any] | None:
    """One transaction's facts."""
    row = audit.transaction(store(), run_id, tx_id)
    return tx_dict(row) if row else None


def action_frame(rows: Any) -> pd.DataFrame:
    cols = ["round", "seq", "agent", "action", "accepted", "rule", "reason", "payload", "thread", "span_id"]
    return pd.DataFrame(
        [
            {
                "round": a.round,
                "seq": a.seq,
                "agent": a.agent_id,
                "action": a.action_type,
                "accepted": a.accepted,
                "rule": a.rule,
                "reason": a.reason,
                "payload": a.payload,
                "thread": a.thread_id,
                "span_id": a.span_id,
            }
            for a in rows
        ],
        columns=cols,
    )


@st.cache_data(ttl=LIVE_TTL, show_spinner=False)
def _thread(url: str, run_id: str, thread_id: str) -> pd.DataFrame:
    return action_frame(audit.thread_actions(cached_store(url), run_id, thread_id))


def thread(run_id: str, thread_id: str) -> pd.DataFrame:
    """The negotiation behind a deal: every action on its thread with its verdict (payload as text)."""
    return _thread(db_url(), run_id, thread_id)


# --- agents -------------------------------------------------------------------------------
@st.cache_data(ttl=60, show_spinner=False)
def _agents(url: str, run_id: str) -> pd.DataFrame:
    rows = read.agents(cached_store(url), run_id)
    return pd.DataFrame(
        [
            {
                "agent": a.agent_id,
                "role": a.role,
                "kind": a.kind,
                "endowment": a.endowment / MICRO,
                "params": a.params_json,
                "private": a.private_json,
            }
            for a in rows
        ],
        columns=["agent", "role", "kind", "endowment", "params", "private"],
    )


def agents(run_id: str) -> pd.DataFrame:
    """The agents of a run with role, type, endowment, parameters and private information."""
    return _agents(db_url(), run_id)


@st.cache_data(ttl=LIVE_TTL, show_spinner=False)
def _balance(url: str, run_id: str, agent_id: str) -> pd.DataFrame:
    from protocols.settlement import account

    changes = audit.balance_changes(cached_store(url), run_id, account(agent_id))
    df = pd.DataFrame(changes, columns=["round", "change"])
    df["balance"] = df["change"].cumsum() / MICRO
    df["change"] = df["change"] / MICRO
    return df


def balance(run_id: str, agent_id: str) -> pd.DataFrame:
    """An agent's available balance at the end of each round it moved money (round 0: endowment)."""
    return _balance(db_url(), run_id, agent_id)


@st.cache_data(ttl=LIVE_TTL, show_spinner=False)
def _violations(url: str, run_id: str, agent_id: str) -> pd.DataFrame:
    return pd.DataFrame(audit.violations(cached_store(url), run_id, agent_id), columns=["rule", "count"])


def violations(run_id: str, agent_id: str) -> pd.DataFrame:
    """An agent's rejected actions by rule."""
    return _violations(db_url(), run_id, agent_id)


@st.cache_data(ttl=LIVE_TTL, show_spinner=False)
def _actions(url: str, run_id: str, agent: str | None, round_: int | None, offset: int, limit: int) -> pd.DataFrame:
    return action_frame(read.actions(cached_store(url), run_id, agent=agent, round_=round_, offset=offset, limit=limit))


def actions(
    run_id: str, *, agent: str | None = None, round_: int | None = None, offset: int = 0, limit: int = 100
) -> pd.DataFrame:
    """A page of submitted actions (accepted or not), filtered by agent or round."""
    return _actions(db_url(), run_id, agent, round_, offset, limit)


# --- replay -------------------------------------------------------------------------------
@st.cache_data(ttl=60, show_spinner=False)
def _balances_at(url: str, run_id: str, round_: int) -> pd.DataFrame:
    rows = [
        {"account": k, "balance": v / MICRO}
        for k, v in sorted(audit.balances_at(cached_store(url), run_id, round_).items())
        if k != "external"
    ]
    return pd.DataFrame(rows, columns=["account", "balance"])


def balances_at(run_id: str, round_: int) -> pd.DataFrame:
    """Every account's balance at the end of a round (agents, escrow, treasury)."""
    return _balances_at(db_url(), run_id, round_)


@st.cache_data(ttl=60, show_spinner=False)
def _deals_in(url: str, run_id: str, round_: int) -> pd.DataFrame:
    return pd.DataFrame([tx_dict(t) for t in audit.deals_settled_in(cached_store(url), run_id, round_)])


def deals_in(run_id: str, round_: int) -> pd.DataFrame:
    """Deals that settled (or were refunded) in a round."""
    return _deals_in(db_url(), run_id, round_)
