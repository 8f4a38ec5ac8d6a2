"""Shared by the data modules: the cached store, runs, policy versions and control commands."""

from __future__ import annotations

import json
import os
import sys
from typing import Any

import pandas as pd
import streamlit as st

from protocols.policy import IncentivePolicy
from traces import audit, control, read
from traces.store import DEFAULT_DB, Store
from ui import keys

# The ``agora`` command in this interpreter (``python -m sandbox.cli`` would miss the commands
# other modules register on the app, since the module would run as ``__main__``).
AGORA = (sys.executable, "-c", "from sandbox.cli import main; main()")
LIVE_TTL = 2.0  # seconds a cached query may lag a live run
MICRO = 1e6


def db_url() -> str:
    """The store the app reads, from ``AGORA_DB`` (``agora ui --db`` sets it)."""
    return os.environ.get(keys.DB_ENV) or DEFAULT_DB


@st.cache_resource(show_spinner=False)
def cached_store(url: str) -> Store:
    """One store (engine and pool) per URL for the whole app, with the audit indexes in place."""
    store = Store(url)
    audit.ensure_indexes(store)
    return store


def store() -> Store:
    """The cached store of this app."""
    return cached_store(db_url())


# --- runs ---------------------------------------------------------------------------------
@st.cache_data(ttl=LIVE_TTL, show_spinner=False)
def _runs(url: str, limit: int) -> pd.DataFrame:
    s = cached_store(url)
    rows = read.runs(s, limit=limit)
    totals = audit.round_totals(s, [r.id for r in rows])
    alerts = alert_counts_by_run(s, [r.id for r in rows])
    out = []
    for r in rows:
        t = totals.get(r.id, {})
        out.append(
            {
                "run": r.id,
                "scenario": r.scenario,
                "seed": r.seed,
                "status": r.status,
                "rounds": f"{r.rounds_done}/{r.rounds_planned}",
                "agents": r.n_agents,
                "transactions": t.get("transactions", 0),
                "volume": t.get("volume", 0) / MICRO,
                "efficiency": t.get("efficiency"),
                "alerts": alerts.get(r.id, 0),
                "started": pd.to_datetime(r.started_at, unit="s", utc=True),
                "parent": r.parent_run_id,
            }
        )
    return pd.DataFrame(out)


def runs(limit: int = 200) -> pd.DataFrame:
    """Recent runs with scenario, seed, status, rounds, agents, volume, efficiency and alerts."""
    return _runs(db_url(), limit)


@st.cache_data(ttl=LIVE_TTL, show_spinner=False)
def _run(url: str, run_id: str) -> dict[str, Any] | None:
    row = read.run(cached_store(url), run_id)
    return row.model_dump() if row else None


def run(run_id: str) -> dict[str, Any] | None:
    """One run's row as a dict (status, rounds done, scenario config...)."""
    return _run(db_url(), run_id)


def is_live(info: dict[str, Any] | None) -> bool:
    """Whether a run may still apply commands (running now, or paused between calls)."""
    return bool(info and info["status"] in ("running", "paused"))


def alert_counts_by_run(s: Store, run_ids: list[str]) -> dict[str, int]:
    """Alerts raised per run."""
    return audit.alert_counts(s, run_ids)


def clear() -> None:
    """Forget cached query results (after a write, so the page shows it at once)."""
    st.cache_data.clear()


def policy_in_force(run_id: str) -> dict[str, Any]:
    """The latest recorded policy version of a run (the scenario's default before any)."""
    versions = policy_versions(run_id)
    if versions.empty:
        return IncentivePolicy().model_dump()
    return json.loads(versions.iloc[-1]["policy_json"])


@st.cache_data(ttl=LIVE_TTL, show_spinner=False)
def _policy_versions(url: str, run_id: str) -> pd.DataFrame:
    rows = audit.policy_versions(cached_store(url), run_id)
    return pd.DataFrame(
        [r.model_dump() for r in rows], columns=["run_id", "version", "round", "author", "reason", "policy_json"]
    )


def policy_versions(run_id: str) -> pd.DataFrame:
    """Every policy version of a run with author, reason and the round it took effect."""
    return _policy_versions(db_url(), run_id)


@st.cache_data(ttl=LIVE_TTL, show_spinner=False)
def _commands(url: str, run_id: str) -> pd.DataFrame:
    rows = control.commands(cached_store(url), run_id)
    cols = ["id", "kind", "author", "reason", "written", "applied_round", "outcome", "payload"]
    return pd.DataFrame(
        [
            {
                "id": c.id,
                "kind": c.kind,
                "author": c.author,
                "reason": c.reason,
                "written": pd.to_datetime(c.created_at, unit="s", utc=True),
                "applied_round": c.applied_round,
                "outcome": c.outcome,
                "payload": c.payload_json,
            }
            for c in rows
        ],
        columns=cols,
    )


def commands(run_id: str) -> pd.DataFrame:
    """Every control command of a run: who wrote it, when, and the round it took effect."""
    return _commands(db_url(), run_id)
