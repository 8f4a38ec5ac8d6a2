"""The one module of the app that touches the store, through ``traces``' read API.

The store is a cached resource (one engine per URL); queries are cached for a few seconds so
pages stay fast and still follow a live run. Money comes back in currency units. Writes are
control rows (``traces.control``): the running session applies them at its next round.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import pandas as pd
import streamlit as st

from protocols.policy import IncentivePolicy
from traces import audit, control, read
from traces.store import DEFAULT_DB, Store
from ui import keys

LIVE_TTL = 2.0  # seconds a cached query may lag a live run
MICRO = 1e6


def db_url() -> str:
    """The store the app reads, from ``AGORA_DB`` (``agora ui --db`` sets it)."""
    return os.environ.get(keys.DB_ENV) or DEFAULT_DB


@st.cache_resource(show_spinner=False)
def _store(url: str) -> Store:
    store = Store(url)
    audit.ensure_indexes(store)
    return store


def store() -> Store:
    """The cached store of this app."""
    return _store(db_url())


# --- runs ---------------------------------------------------------------------------------
@st.cache_data(ttl=LIVE_TTL, show_spinner=False)
def _runs(url: str, limit: int) -> pd.DataFrame:
    s = _store(url)
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
                "alerts": alerts.get(r.id) if alerts is not None else None,
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
    row = read.run(_store(url), run_id)
    return row.model_dump() if row else None


def run(run_id: str) -> dict[str, Any] | None:
    """One run's row as a dict (status, rounds done, scenario config...)."""
    return _run(db_url(), run_id)


def is_live(info: dict[str, Any] | None) -> bool:
    """Whether a run may still apply commands (running now, or paused between calls)."""
    return bool(info) and info["status"] in ("running", "paused")


# --- market -------------------------------------------------------------------------------
@st.cache_data(ttl=LIVE_TTL, show_spinner=False)
def _rounds(url: str, run_id: str, last: int | None) -> pd.DataFrame:
    rows = audit.rounds_window(_store(url), run_id, last)
    out = []
    for r in rows:
        m = json.loads(r.metrics_json)
        out.append(
            {
                "round": r.round, "actions": r.n_actions, "rejected": r.n_rejected, "transactions": r.n_tx,
                "volume": r.volume / MICRO, "mean_price": r.mean_price, "efficiency": r.efficiency,
                "hhi": m.get("hhi"), "gini": m.get("gini"), "fees": m.get("fees", 0.0), "fines": m.get("fines", 0.0),
            }
        )
    return pd.DataFrame(out)


def rounds(run_id: str, last: int | None = None) -> pd.DataFrame:
    """Per-round metrics (the last ``last`` rounds when given)."""
    return _rounds(db_url(), run_id, last)


@st.cache_data(ttl=LIVE_TTL, show_spinner=False)
def _prices(url: str, run_id: str) -> pd.DataFrame:
    rows = audit.prices_by_round(_store(url), run_id)
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
    for a in read.agents(_store(url), run_id):
        private = json.loads(a.private_json)
        for service, v in (private.get("values") or {}).items():
            values.setdefault(service, []).extend([float(v)] * int(private.get("demand", 1)))
        for service, c in (private.get("costs") or {}).items():
            costs.setdefault(service, []).extend([float(c)] * int(private.get("capacity", 1)))
    return {s: band for s in values if (band := competitive_band(values[s], costs.get(s, []))) is not None}


def competitive_band(values: list[float], costs: list[float]) -> tuple[float, float] | None:
    """The competitive-equilibrium price range of unit values against unit costs (None without trade).

    Demand sorted high to low meets supply sorted low to high; q units trade where the q-th
    value is at least the q-th cost, and any price between the marginal units clears the market.
    """
    vs, cs = sorted(values, reverse=True), sorted(costs)
    q = 0
    while q < min(len(vs), len(cs)) and vs[q] >= cs[q]:
        q += 1
    if q == 0:
        return None
    low = max(cs[q - 1], vs[q] if q < len(vs) else cs[q - 1])
    high = min(vs[q - 1], cs[q] if q < len(cs) else vs[q - 1])
    return (min(low, high), max(low, high))


def benchmarks(run_id: str) -> dict[str, tuple[float, float]]:
    """Competitive price band per service, from the agents' private values and costs."""
    return _benchmarks(db_url(), run_id)


@st.cache_data(ttl=LIVE_TTL, show_spinner=False)
def _network(url: str, run_id: str, limit: int) -> pd.DataFrame:
    rows = audit.trade_pairs(_store(url), run_id, limit)
    return pd.DataFrame(
        [{"buyer": b, "seller": s, "deals": n, "volume": v / MICRO} for b, s, n, v in rows],
        columns=["buyer", "seller", "deals", "volume"],
    )


def trade_network(run_id: str, limit: int = 300) -> pd.DataFrame:
    """Who trades with whom: one row per buyer-seller pair with deals and volume."""
    return _network(db_url(), run_id, limit)


def alert_counts_by_run(s: Store, run_ids: list[str]) -> dict[str, int] | None:
    """Alerts per run, or ``None`` while the store has no alerts table (the safety issue)."""
    return None


# --- writes -------------------------------------------------------------------------------
def submit_policy(run_id: str, changes: dict[str, Any], author: str, reason: str) -> int:
    """Write a ``set_policy`` command; the live session applies it at its next round."""
    merged = {**policy_in_force(run_id), **changes}
    IncentivePolicy.model_validate(merged)  # refuse here what the session would refuse later
    command_id = control.submit_command(store(), run_id, "set_policy", changes, author, reason)
    clear()
    return command_id


def submit_command(run_id: str, kind: str, payload: dict[str, Any], author: str, reason: str) -> int:
    """Write any control command (review decisions, halts) for a run."""
    command_id = control.submit_command(store(), run_id, kind, payload, author, reason)
    clear()
    return command_id


def start_demo(rounds: int, seed: int | None, author: str) -> int:
    """Start ``agora demo`` into this app's store in a child process; returns its pid.

    Who started it and when is recorded as a ``start_demo`` control row (run id ``*``).
    """
    cmd = [sys.executable, "-m", "sandbox.cli", "demo", "--db", db_url(), "--rounds", str(rounds)]
    if seed is not None:
        cmd += ["--seed", str(seed)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    control.submit_command(store(), "*", "start_demo", {"rounds": rounds, "seed": seed, "pid": proc.pid}, author)
    clear()
    return proc.pid


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
    rows = audit.policy_versions(_store(url), run_id)
    return pd.DataFrame(
        [r.model_dump() for r in rows], columns=["run_id", "version", "round", "author", "reason", "policy_json"]
    )


def policy_versions(run_id: str) -> pd.DataFrame:
    """Every policy version of a run with author, reason and the round it took effect."""
    return _policy_versions(db_url(), run_id)


@st.cache_data(ttl=LIVE_TTL, show_spinner=False)
def _commands(url: str, run_id: str) -> pd.DataFrame:
    rows = control.commands(_store(url), run_id)
    cols = ["id", "kind", "author", "reason", "written", "applied_round", "outcome", "payload"]
    return pd.DataFrame(
        [
            {
                "id": c.id, "kind": c.kind, "author": c.author, "reason": c.reason,
                "written": pd.to_datetime(c.created_at, unit="s", utc=True), "applied_round": c.applied_round,
                "outcome": c.outcome, "payload": c.payload_json,
            }
            for c in rows
        ],
        columns=cols,
    )


def commands(run_id: str) -> pd.DataFrame:
    """Every control command of a run: who wrote it, when, and the round it took effect."""
    return _commands(db_url(), run_id)


# --- transactions -------------------------------------------------------------------------
def _tx_dict(t: Any) -> dict[str, Any]:
    return {
        "tx": t.tx_id, "status": t.status, "service": t.service, "buyer": t.buyer, "seller": t.seller,
        "price": t.price / MICRO, "fee": t.fee / MICRO, "surplus": (t.value - t.cost) / MICRO if t.status == "settled" else 0.0,
        "opened": t.opened_round, "accepted": t.accepted_round, "settled": t.settled_round, "thread": t.thread_id,
        "listing": t.listing_id, "quality": t.quality, "score": t.score, "span_id": t.span_id, "trace_id": t.trace_id,
    }


@st.cache_data(ttl=LIVE_TTL, show_spinner=False)
def _tx_page(url: str, run_id: str, filt: tuple[Any, ...], offset: int, limit: int) -> tuple[pd.DataFrame, int]:
    f = audit.TxFilter(*filt)
    s = _store(url)
    rows = audit.find_transactions(s, run_id, f, offset=offset, limit=limit)
    return pd.DataFrame([_tx_dict(t) for t in rows]), audit.count_transactions(s, run_id, f)


def transactions_page(
    run_id: str, *, status: str | None = None, service: str | None = None, agent: str | None = None,
    round_min: int | None = None, round_max: int | None = None, price_min: float | None = None,
    price_max: float | None = None, offset: int = 0, limit: int = 50,
) -> tuple[pd.DataFrame, int]:
    """One page of the audit table and how many transactions match the filter in all."""
    micros = [None if p is None else round(p * MICRO) for p in (price_min, price_max)]
    filt = (status, service, agent or None, round_min, round_max, *micros)
    return _tx_page(db_url(), run_id, filt, offset, limit)


@st.cache_data(ttl=60, show_spinner=False)
def _services(url: str, run_id: str) -> list[str]:
    return audit.services(_store(url), run_id)


def services(run_id: str) -> list[str]:
    """Services traded in a run."""
    return _services(db_url(), run_id)


def transaction(run_id: str, tx_id: int) -> dict[str, Any] | None:
    """One transaction's facts."""
    row = audit.transaction(store(), run_id, tx_id)
    return _tx_dict(row) if row else None


def _action_dicts(rows: Any) -> pd.DataFrame:
    cols = ["round", "seq", "agent", "action", "accepted", "rule", "reason", "payload", "thread", "span_id"]
    return pd.DataFrame(
        [
            {
                "round": a.round, "seq": a.seq, "agent": a.agent_id, "action": a.action_type, "accepted": a.accepted,
                "rule": a.rule, "reason": a.reason, "payload": a.payload, "thread": a.thread_id, "span_id": a.span_id,
            }
            for a in rows
        ],
        columns=cols,
    )


@st.cache_data(ttl=LIVE_TTL, show_spinner=False)
def _thread(url: str, run_id: str, thread_id: str) -> pd.DataFrame:
    return _action_dicts(audit.thread_actions(_store(url), run_id, thread_id))


def thread(run_id: str, thread_id: str) -> pd.DataFrame:
    """The negotiation behind a deal: every action on its thread with its verdict (payload as text)."""
    return _thread(db_url(), run_id, thread_id)


# --- agents -------------------------------------------------------------------------------
@st.cache_data(ttl=60, show_spinner=False)
def _agents(url: str, run_id: str) -> pd.DataFrame:
    rows = read.agents(_store(url), run_id)
    return pd.DataFrame(
        [
            {"agent": a.agent_id, "role": a.role, "kind": a.kind, "endowment": a.endowment / MICRO,
             "params": a.params_json, "private": a.private_json}
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

    changes = audit.balance_changes(_store(url), run_id, account(agent_id))
    df = pd.DataFrame(changes, columns=["round", "change"])
    df["balance"] = df["change"].cumsum() / MICRO
    df["change"] = df["change"] / MICRO
    return df


def balance(run_id: str, agent_id: str) -> pd.DataFrame:
    """An agent's available balance at the end of each round it moved money (round 0: endowment)."""
    return _balance(db_url(), run_id, agent_id)


@st.cache_data(ttl=LIVE_TTL, show_spinner=False)
def _violations(url: str, run_id: str, agent_id: str) -> pd.DataFrame:
    return pd.DataFrame(audit.violations(_store(url), run_id, agent_id), columns=["rule", "count"])


def violations(run_id: str, agent_id: str) -> pd.DataFrame:
    """An agent's rejected actions by rule."""
    return _violations(db_url(), run_id, agent_id)


@st.cache_data(ttl=LIVE_TTL, show_spinner=False)
def _actions(url: str, run_id: str, agent: str | None, round_: int | None, offset: int, limit: int) -> pd.DataFrame:
    return _action_dicts(read.actions(_store(url), run_id, agent=agent, round_=round_, offset=offset, limit=limit))


def actions(run_id: str, *, agent: str | None = None, round_: int | None = None, offset: int = 0, limit: int = 100) -> pd.DataFrame:
    """A page of submitted actions (accepted or not), filtered by agent or round."""
    return _actions(db_url(), run_id, agent, round_, offset, limit)


# --- replay -------------------------------------------------------------------------------
@st.cache_data(ttl=60, show_spinner=False)
def _balances_at(url: str, run_id: str, round_: int) -> pd.DataFrame:
    rows = [
        {"account": k, "balance": v / MICRO}
        for k, v in sorted(audit.balances_at(_store(url), run_id, round_).items())
        if k != "external"
    ]
    return pd.DataFrame(rows, columns=["account", "balance"])


def balances_at(run_id: str, round_: int) -> pd.DataFrame:
    """Every account's balance at the end of a round (agents, escrow, treasury)."""
    return _balances_at(db_url(), run_id, round_)


@st.cache_data(ttl=60, show_spinner=False)
def _deals_in(url: str, run_id: str, round_: int) -> pd.DataFrame:
    return pd.DataFrame([_tx_dict(t) for t in audit.deals_settled_in(_store(url), run_id, round_)])


def deals_in(run_id: str, round_: int) -> pd.DataFrame:
    """Deals that settled (or were refunded) in a round."""
    return _deals_in(db_url(), run_id, round_)


# --- data other issues add (None while their tables or modules are not there) -------------
def _has_table(name: str) -> bool:
    from sqlmodel import SQLModel

    from traces import tables  # noqa: F401  (registers every table module)

    return name in SQLModel.metadata.tables


def trace_for(run_id: str, tx: dict[str, Any]) -> pd.DataFrame | None:
    """The spans behind a transaction as a tree (depth-first, with depth), or None without spans."""
    return None


def llm_calls(run_id: str, agent_id: str) -> pd.DataFrame | None:
    """An agent's LLM calls in order, or None while nothing records them."""
    return None


def agent_extras(run_id: str, agent_id: str) -> dict[str, Any]:
    """Reputation, breaker state, tokens and cost of an agent, where the store records them."""
    return {}


def alerts(run_id: str) -> pd.DataFrame | None:
    """The run's alerts, or None while the store has no alerts table."""
    return None


def replay_available() -> bool:
    """Whether the replay issue's ``sandbox.replay`` is installed."""
    import importlib.util

    return importlib.util.find_spec("sandbox.replay") is not None
