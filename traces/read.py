"""The read API over the store, for the command line, the UI and replay.

Queries go through SQLAlchemy expressions, never string-built SQL.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import Session, col, select

from traces.schema import ActionRow, AgentRow, LedgerEntryRow, RoundRow, RunRow, TransactionRow, agent_actions
from traces.store import Store


def runs(store: Store, limit: int = 200) -> Sequence[RunRow]:
    """The most recent runs first."""
    with Session(store.engine) as s:
        return s.exec(select(RunRow).order_by(col(RunRow.started_at).desc()).limit(limit)).all()


def run(store: Store, run_id: str) -> RunRow | None:
    """One run by id."""
    with Session(store.engine) as s:
        return s.get(RunRow, run_id)


def agents(store: Store, run_id: str) -> Sequence[AgentRow]:
    """The agents of a run, by id."""
    with Session(store.engine) as s:
        return s.exec(select(AgentRow).where(AgentRow.run_id == run_id).order_by(AgentRow.agent_id)).all()


def transactions(
    store: Store, run_id: str, *, agent: str | None = None, offset: int = 0, limit: int | None = None
) -> Sequence[TransactionRow]:
    """Transactions of a run in settlement order, optionally those of one agent."""
    q = select(TransactionRow).where(TransactionRow.run_id == run_id)
    if agent is not None:
        q = q.where((TransactionRow.buyer == agent) | (TransactionRow.seller == agent))
    q = q.order_by(col(TransactionRow.tx_id)).offset(offset)
    if limit is not None:
        q = q.limit(limit)
    with Session(store.engine) as s:
        return s.exec(q).all()


def ledger(store: Store, run_id: str) -> Sequence[LedgerEntryRow]:
    """Every ledger posting of a run, in order."""
    with Session(store.engine) as s:
        return s.exec(
            select(LedgerEntryRow).where(LedgerEntryRow.run_id == run_id).order_by(col(LedgerEntryRow.seq))
        ).all()


def actions(
    store: Store,
    run_id: str,
    *,
    agent: str | None = None,
    round_: int | None = None,
    accepted: bool | None = None,
    offset: int = 0,
    limit: int | None = None,
) -> Sequence[ActionRow]:
    """Submitted actions of a run in application order, filtered."""
    q = select(ActionRow).where(ActionRow.run_id == run_id)
    if agent is not None and accepted is None:
        q = q.where(*agent_actions(agent))  # through the (run, accepted, agent) index
    elif agent is not None:
        q = q.where(ActionRow.agent_id == agent)
    if round_ is not None:
        q = q.where(ActionRow.round == round_)
    if accepted is not None:
        q = q.where(ActionRow.accepted == accepted)
    q = q.order_by(col(ActionRow.round), col(ActionRow.seq)).offset(offset)
    if limit is not None:
        q = q.limit(limit)
    with Session(store.engine) as s:
        return s.exec(q).all()


def rounds(store: Store, run_id: str) -> Sequence[RoundRow]:
    """Per-round metrics and hashes of a run."""
    with Session(store.engine) as s:
        return s.exec(select(RoundRow).where(RoundRow.run_id == run_id).order_by(col(RoundRow.round))).all()
