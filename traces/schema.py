"""The store's core tables. ``traces`` owns every table; other modules here add their own.

Money columns are integer micro-units (``protocols.money``). Rows carry no wall-clock time
except where named ``*_at``, so two runs with one seed write identical market records.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Column, Index, Text
from sqlmodel import Field, SQLModel


class RunRow(SQLModel, table=True):
    """One run of a scenario."""

    __tablename__ = "runs"

    id: str = Field(primary_key=True)
    scenario: str
    seed: int
    status: str = Field(index=True, description="running, finished, failed or crashed")
    rounds_planned: int
    rounds_done: int = 0
    n_agents: int = 0
    config_json: str = Field(sa_column=Column(Text, nullable=False), description="the scenario, for replay")
    started_at: float
    finished_at: float | None = None
    parent_run_id: str | None = None
    fork_round: int | None = None
    summary_json: str | None = Field(default=None, sa_column=Column(Text))
    error: str | None = Field(default=None, sa_column=Column(Text))


class AgentRow(SQLModel, table=True):
    """An agent of a run: its type, parameters, private information and endowment."""

    __tablename__ = "agents"

    run_id: str = Field(primary_key=True)
    agent_id: str = Field(primary_key=True)
    role: str
    kind: str
    params_json: str = Field(sa_column=Column(Text, nullable=False))
    private_json: str = Field(sa_column=Column(Text, nullable=False))
    endowment: int


class ActionRow(SQLModel, table=True):
    """Every submitted action, accepted or not, with the verdict and the rule that decided."""

    __tablename__ = "actions"
    # an agent's actions are read through traces.audit's (run_id, accepted, agent_id) index with
    # ``accepted IN (false, true)`` (``agent_actions``): one agent-first index written per action, not two
    # (stores made before 2026-12-03 keep ix_actions_run_agent as well). No read names a rule without an
    # agent (rejections by rule are read from spans), and reads by ``accepted`` take the same index or the
    # key, so ix_actions_run_rule (run_id, accepted, rule) is no longer made: 9k instructions per order
    # (stores made before 2026-12-03 14:00 UTC keep it; docs/performance-history.md, sixth pass)

    run_id: str = Field(primary_key=True)
    round: int = Field(primary_key=True)
    seq: int = Field(primary_key=True, description="order of application within the round")
    agent_id: str
    action_type: str
    thread_id: str | None = None
    payload: str = Field(sa_column=Column(Text, nullable=False), description="the action as submitted (JSON)")
    accepted: bool
    rule: str
    reason: str = Field(sa_column=Column(Text, nullable=False))
    span_id: str | None = None


class TransactionRow(SQLModel, table=True):
    """A deal that ended with money moving: settled to the seller, or refunded to the buyer."""

    __tablename__ = "transactions"
    __table_args__ = (Index("ix_tx_run_round", "run_id", "settled_round"),)

    run_id: str = Field(primary_key=True)
    tx_id: int = Field(primary_key=True)
    status: str = Field(description="settled or refunded")
    thread_id: str
    listing_id: str
    service: str
    buyer: str  # indexed with the run first (traces.audit): ix_tx_run_buyer, ix_tx_run_seller
    seller: str
    price: int
    fee: int
    value: int = Field(description="the buyer's private value of the unit (0 beyond its demand)")
    cost: int = Field(description="the seller's private cost of the unit")
    quality: float | None = None
    score: float | None = None
    opened_round: int
    accepted_round: int
    settled_round: int
    span_id: str | None = None
    trace_id: str | None = None


class LedgerEntryRow(SQLModel, table=True):
    """One posting of the double-entry ledger: an amount moved from one account to another."""

    __tablename__ = "ledger_entries"
    # every read of postings names the run: they go through the key and traces.audit's covering
    # (run, account, round, amount) indexes, so no index on round alone is written per posting
    # (stores made before 2026-12-03 keep ix_ledger_entries_round)

    run_id: str = Field(primary_key=True)
    seq: int = Field(primary_key=True)
    round: int
    source: str
    dest: str
    amount: int
    kind: str
    ref: str | None = None


class RoundRow(SQLModel, table=True):
    """Per-round metrics and the hashes that replay checks against."""

    __tablename__ = "rounds"

    run_id: str = Field(primary_key=True)
    round: int = Field(primary_key=True)
    n_actions: int
    n_accepted: int
    n_rejected: int
    n_tx: int
    volume: int
    surplus: int
    efficiency: float | None = None
    mean_price: float | None = None
    metrics_json: str = Field(sa_column=Column(Text, nullable=False))
    ledger_hash: str
    actions_hash: str


class PolicyVersionRow(SQLModel, table=True):
    """A policy that took effect in a run: who set it, why, and from which round."""

    __tablename__ = "policy_versions"

    run_id: str = Field(primary_key=True)
    version: int = Field(primary_key=True)
    round: int = Field(description="first round the policy applies to")
    author: str
    reason: str = Field(sa_column=Column(Text, nullable=False))
    policy_json: str = Field(sa_column=Column(Text, nullable=False))


def agent_actions(agent_id: str) -> tuple[Any, Any]:
    """The conditions for one agent's actions, written so an index on (run_id, accepted, agent_id) serves them.

    ``accepted`` is never NULL, so ``accepted IN (false, true)`` holds for every row; it lets SQLite and
    PostgreSQL look the agent up in each half of that index instead of scanning the run's actions.
    """
    return ActionRow.accepted.in_((False, True)), ActionRow.agent_id == agent_id  # type: ignore[attr-defined]


CORE_TABLES = (RunRow, AgentRow, ActionRow, TransactionRow, LedgerEntryRow, RoundRow, PolicyVersionRow)
