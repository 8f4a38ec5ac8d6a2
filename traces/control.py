"""The control plane in the store: commands humans (the UI) write and a running session reads.

A command is a row: its kind (``set_policy``, ``review_alert``, ``halt``, ...), a JSON
payload, who wrote it and why, and when. The session picks up unapplied commands of its run
at the start of each round and marks them applied with the round they took effect.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Column, Index, Text, text, update
from sqlmodel import Field, Session, SQLModel, col, select

from traces.store import Store  # noqa: TC001


class ControlRow(SQLModel, table=True):
    """A command for a run, written by a person or a script, applied by the session."""

    __tablename__ = "control_commands"
    __table_args__ = (Index("ix_control_run_pending", "run_id", "applied_round"),)

    id: int | None = Field(default=None, primary_key=True)
    run_id: str
    kind: str
    payload_json: str = Field(sa_column=Column(Text, nullable=False))
    author: str
    reason: str = Field(sa_column=Column(Text, nullable=False))
    created_at: float
    applied_round: int | None = None
    outcome: str | None = Field(default=None, sa_column=Column(Text))


def submit_command(
    store: Store, run_id: str, kind: str, payload: Mapping[str, Any], author: str, reason: str = ""
) -> int:
    """Write a command for ``run_id``; returns its id."""
    if not author.strip():
        raise ValueError("a command needs an author (who is asking)")
    row = ControlRow(
        run_id=run_id,
        kind=kind,
        payload_json=json.dumps(dict(payload), sort_keys=True),
        author=author,
        reason=reason,
        created_at=time.time(),
    )
    with Session(store.engine) as s:
        s.add(row)
        s.commit()
        s.refresh(row)
        assert row.id is not None
        return row.id


_ANY_PENDING = text("SELECT 1 FROM control_commands WHERE run_id = :run AND applied_round IS NULL LIMIT 1")


def any_pending(store: Store, run_id: str) -> bool:
    """Whether a command of the run waits: one indexed lookup on a pooled connection (about a
    tenth of ``pending_commands``' ORM query; the session asks this every round)."""
    with store.engine.connect() as conn:
        return conn.execute(_ANY_PENDING, {"run": run_id}).first() is not None


def pending_commands(store: Store, run_id: str) -> Sequence[ControlRow]:
    """Commands of a run not yet applied, oldest first."""
    if not any_pending(store, run_id):
        return []
    with Session(store.engine) as s:
        q = select(ControlRow).where(ControlRow.run_id == run_id, ControlRow.applied_round.is_(None))  # type: ignore[union-attr]
        return s.exec(q.order_by(col(ControlRow.id))).all()


def mark_applied(store: Store, command_id: int, round_: int, outcome: str) -> None:
    """Record that a command took effect in ``round_`` (or why it did not)."""
    with store.engine.begin() as conn:
        conn.execute(
            update(ControlRow).where(col(ControlRow.id) == command_id).values(applied_round=round_, outcome=outcome)
        )


def commands(store: Store, run_id: str) -> Sequence[ControlRow]:
    """Every command of a run, oldest first."""
    with Session(store.engine) as s:
        return s.exec(select(ControlRow).where(ControlRow.run_id == run_id).order_by(col(ControlRow.id))).all()
