"""Every write the audit app was asked to make, allowed or refused: who, from where, when, what.

A refused attempt (no identity, a wrong token, invalid input) is recorded as well as an
allowed one, so an auditor can see who tried to change a run, not only who did.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Column, Index, Text
from sqlmodel import Field, Session, SQLModel, col, select

from traces.store import Store  # noqa: TC001


class WriteAttemptRow(SQLModel, table=True):
    """One attempted write through the app (a policy change, a review, a demo, a replay, a fork)."""

    __tablename__ = "write_attempts"
    __table_args__ = (Index("ix_write_attempts_run", "run_id", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    at: float = Field(description="seconds since the epoch")
    run_id: str = Field(description="the run written to, or * for launches")
    action: str = Field(description="set_policy, review_alert, start_demo, replay, start_fork, ...")
    operator: str = Field(description="the identity the token maps to (or the name typed on loopback); '' if none")
    client: str = Field(description="the client's address as the server saw it; 'local' on this machine")
    allowed: bool
    outcome: str = Field(sa_column=Column(Text, nullable=False), description="what was written, or why refused")
    detail_json: str = Field(sa_column=Column(Text, nullable=False), description="what was asked, as JSON")


def record_attempt(
    store: Store,
    run_id: str,
    action: str,
    operator: str,
    client: str,
    allowed: bool,
    outcome: str,
    detail: Mapping[str, Any] | None = None,
) -> int:
    """Record one attempted write; returns its id."""
    row = WriteAttemptRow(
        at=time.time(),
        run_id=run_id,
        action=action,
        operator=operator,
        client=client,
        allowed=allowed,
        outcome=outcome,
        detail_json=json.dumps(dict(detail or {}), sort_keys=True, default=str),
    )
    with Session(store.engine) as s:
        s.add(row)
        s.commit()
        s.refresh(row)
        assert row.id is not None
        return row.id


def attempts(store: Store, run_id: str | None = None, limit: int = 200) -> Sequence[WriteAttemptRow]:
    """The latest attempted writes (of one run, or all), newest first."""
    q = select(WriteAttemptRow)
    if run_id is not None:
        q = q.where(col(WriteAttemptRow.run_id).in_([run_id, "*"]))
    with Session(store.engine) as s:
        return s.exec(q.order_by(col(WriteAttemptRow.id).desc()).limit(limit)).all()
