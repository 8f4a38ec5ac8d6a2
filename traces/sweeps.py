"""Sweeps in the store: which runs a sweep made, with the grid point and seed of each."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Column, Text
from sqlmodel import Field, Session, SQLModel, col, select

from traces.store import Store  # noqa: TC001


class SweepRunRow(SQLModel, table=True):
    """One run of a sweep: the grid point (parameters as JSON) and the seed it ran with."""

    __tablename__ = "sweep_runs"

    sweep_id: str = Field(primary_key=True)
    run_id: str = Field(primary_key=True)
    cell: int = Field(description="position of the grid point in the sweep")
    params_json: str = Field(sa_column=Column(Text, nullable=False))
    seed: int
    status: str = Field(description="finished or failed")
    error: str | None = Field(default=None, sa_column=Column(Text))


def record_sweep_runs(store: Store, rows: Sequence[SweepRunRow]) -> None:
    """Write the sweep's rows in one transaction."""
    with Session(store.engine) as s:
        s.add_all(rows)
        s.commit()


def sweep_runs(store: Store, sweep_id: str) -> Sequence[SweepRunRow]:
    """The runs of a sweep, by grid point then seed."""
    with Session(store.engine) as s:
        q = (
            select(SweepRunRow)
            .where(SweepRunRow.sweep_id == sweep_id)
            .order_by(col(SweepRunRow.cell), col(SweepRunRow.seed))
        )
        return s.exec(q).all()


def last_sweep_of(store: Store, scenario: str) -> tuple[str, list[tuple[dict, dict]]] | None:
    """The most recent sweep of ``scenario`` (by its runs' start): its id and each finished run's
    grid point and summary, or None when no sweep of that scenario is recorded."""
    import json

    from traces.schema import RunRow

    with Session(store.engine) as s:
        q = (
            select(SweepRunRow.sweep_id, SweepRunRow.params_json, RunRow.summary_json, RunRow.started_at)
            .join(RunRow, RunRow.id == SweepRunRow.run_id)  # type: ignore[arg-type]
            .where(RunRow.scenario == scenario, SweepRunRow.status == "finished")
        )
        rows = s.exec(q).all()
    if not rows:
        return None
    latest = max(rows, key=lambda r: r[3])[0]
    return latest, [(json.loads(p), json.loads(m or "{}")) for sid, p, m, _ in rows if sid == latest]
