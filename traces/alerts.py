"""The safety layer's record: alerts and their review, breaker transitions, interventions.

Alerts are written with the round's batch, with status ``open`` (waiting for review),
``confirmed`` or ``dismissed``. A person reviews one by writing a ``review_alert`` control
command (``request_review``); the running session applies it at its next round and updates
the alert row (``set_alert_review``). Read functions here serve the UI's alert queue.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Column, Index, Text, update
from sqlmodel import Field, Session, SQLModel, col, select

from traces.control import submit_command
from traces.store import Store  # noqa: TC001

STATUSES = ("open", "confirmed", "dismissed")
DECISIONS = ("confirm", "dismiss", "warn", "fine", "throttle", "suspend", "ban")


class AlertRow(SQLModel, table=True):
    """An alert case: a finding (kind, agents, service) a detector raised, its hits, and what became of it.

    The session writes the row again whenever the case changes (an upsert with the round's batch).
    """

    __tablename__ = "alerts"
    __table_args__ = (
        Index("ix_alerts_run_status", "run_id", "status"),
        Index("ix_alerts_run_kind", "run_id", "kind", "agents_json"),
        {"info": {"upsert": True}},
    )

    run_id: str = Field(primary_key=True)
    alert_id: str = Field(primary_key=True, description="A1, A2, ... in the order the cases were opened")
    round: int = Field(description="round at whose end the case was opened (its first hit)")
    last_round: int = Field(description="round of its latest hit")
    count: int = Field(description="hits: times the detector found it (at most one per repeat_after rounds)")
    kind: str = Field(index=True, description="collusion, wash_trading, concentration, message_storm, ...")
    severity: str = Field(description="low, medium or high: the highest of its hits")
    agents_json: str = Field(sa_column=Column(Text, nullable=False), description="JSON list of agent ids")
    evidence_json: str = Field(
        sa_column=Column(Text, nullable=False),
        description="the latest hit's numbers, the case's record ids (records) and its hits (history)",
    )
    strength: float = Field(description="the highest headline figure of its hits (evidence 'strength')")
    reopened: int = Field(0, description="times it was opened again after a decision")
    window_start: int = Field(description="first round of its first hit's window")
    window_end: int = Field(description="last round of its latest hit's window")
    summary: str = Field(sa_column=Column(Text, nullable=False))
    status: str = Field(description="open, confirmed or dismissed")
    auto: bool = Field(description="handled by the policy without review")
    decision: str | None = Field(default=None, description="confirm, dismiss, warn, fine, throttle, suspend or ban")
    decided_by: str | None = None
    decision_reason: str | None = Field(default=None, sa_column=Column(Text))
    decided_round: int | None = None
    interventions_json: str | None = Field(default=None, sa_column=Column(Text), description="what was applied")

    @property
    def agents(self) -> list[str]:
        """The agents involved."""
        return list(json.loads(self.agents_json))

    @property
    def evidence(self) -> dict[str, Any]:
        """The evidence as a dict."""
        return dict(json.loads(self.evidence_json))


class BreakerEventRow(SQLModel, table=True):
    """A circuit breaker changing state."""

    __tablename__ = "breaker_events"

    run_id: str = Field(primary_key=True)
    seq: int = Field(primary_key=True)
    round: int = Field(index=True)
    breaker: str = Field(description="violations, model_errors, spend_rate, price_band, message_storm, budget")
    subject: str = Field(description="agent id, service:<name>, messages or session")
    before: str
    after: str
    reason: str = Field(sa_column=Column(Text, nullable=False))


class InterventionRow(SQLModel, table=True):
    """A step taken against an agent: warn, fine, throttle, suspend or ban."""

    __tablename__ = "interventions"

    run_id: str = Field(primary_key=True)
    seq: int = Field(primary_key=True)
    round: int = Field(index=True)
    agent_id: str = Field(index=True)
    step: str
    amount: int = Field(0, description="fines, micro-units actually taken")
    rounds: int | None = None
    alert_id: str | None = None
    author: str = Field(description="'policy' for automatic steps, else the reviewer")
    reason: str = Field(sa_column=Column(Text, nullable=False))


def alerts(
    store: Store, run_id: str, *, status: str | None = None, kind: str | None = None, agent: str | None = None
) -> Sequence[AlertRow]:
    """Alerts of a run in the order raised, optionally filtered by status, kind or agent."""
    q = select(AlertRow).where(AlertRow.run_id == run_id)
    if status is not None:
        q = q.where(AlertRow.status == status)
    if kind is not None:
        q = q.where(AlertRow.kind == kind)
    with Session(store.engine) as s:
        rows = s.exec(q.order_by(col(AlertRow.round), col(AlertRow.alert_id))).all()
    if agent is not None:
        rows = [r for r in rows if agent in r.agents]
    return sorted(rows, key=lambda r: (r.round, int(r.alert_id.lstrip("A") or 0)))


def alert(store: Store, run_id: str, alert_id: str) -> AlertRow | None:
    """One alert by id."""
    with Session(store.engine) as s:
        return s.get(AlertRow, (run_id, alert_id))


def review_queue(store: Store, run_id: str) -> Sequence[AlertRow]:
    """Alerts waiting for a person: open, most severe first, then oldest."""
    order = {"high": 0, "medium": 1, "low": 2}
    return sorted(alerts(store, run_id, status="open"), key=lambda r: (order.get(r.severity, 3), r.round))


def breaker_events(store: Store, run_id: str, subject: str | None = None) -> Sequence[BreakerEventRow]:
    """Breaker transitions of a run in order."""
    q = select(BreakerEventRow).where(BreakerEventRow.run_id == run_id)
    if subject is not None:
        q = q.where(BreakerEventRow.subject == subject)
    with Session(store.engine) as s:
        return s.exec(q.order_by(col(BreakerEventRow.seq))).all()


def interventions(store: Store, run_id: str, agent: str | None = None) -> Sequence[InterventionRow]:
    """Interventions of a run in order."""
    q = select(InterventionRow).where(InterventionRow.run_id == run_id)
    if agent is not None:
        q = q.where(InterventionRow.agent_id == agent)
    with Session(store.engine) as s:
        return s.exec(q.order_by(col(InterventionRow.seq))).all()


def request_review(
    store: Store, run_id: str, alert_id: str, decision: str, author: str, reason: str = "", amount: float | None = None
) -> int:
    """Write a ``review_alert`` control command; the running session applies it next round."""
    if decision not in DECISIONS:
        raise ValueError(f"decision must be one of {', '.join(DECISIONS)}, got '{decision}'")
    payload: dict[str, Any] = {"alert_id": alert_id, "decision": decision}
    if amount is not None:
        payload["amount"] = amount
    return submit_command(store, run_id, "review_alert", payload, author, reason)


def request_reviews(
    store: Store,
    run_id: str,
    alert_ids: Sequence[str],
    decision: str,
    author: str,
    reason: str = "",
    amount: float | None = None,
) -> list[int]:
    """One ``review_alert`` command per case, all with one decision and reason, in one transaction."""
    import time

    from traces.control import ControlRow

    if decision not in DECISIONS:
        raise ValueError(f"decision must be one of {', '.join(DECISIONS)}, got '{decision}'")
    if not author.strip():
        raise ValueError("a command needs an author (who is asking)")
    now = time.time()
    rows = [
        ControlRow(
            run_id=run_id,
            kind="review_alert",
            payload_json=json.dumps(
                {"alert_id": a, "decision": decision} | ({} if amount is None else {"amount": amount}), sort_keys=True
            ),
            author=author,
            reason=reason,
            created_at=now,
        )
        for a in alert_ids
    ]
    with Session(store.engine) as s:
        s.add_all(rows)
        s.commit()
        return [r.id for r in rows if r.id is not None]


def set_alert_review(
    store: Store,
    run_id: str,
    alert_id: str,
    *,
    status: str,
    decision: str,
    author: str,
    reason: str,
    round_: int,
    interventions_json: str | None = None,
) -> None:
    """Record a review decision on an alert (the session calls this when it applies one)."""
    if status not in STATUSES:
        raise ValueError(f"status must be one of {', '.join(STATUSES)}, got '{status}'")
    with store.engine.begin() as conn:
        conn.execute(
            update(AlertRow)
            .where(AlertRow.run_id == run_id, AlertRow.alert_id == alert_id)  # type: ignore[arg-type]
            .values(
                status=status,
                decision=decision,
                decided_by=author,
                decision_reason=reason,
                decided_round=round_,
                interventions_json=interventions_json,
            )
        )
