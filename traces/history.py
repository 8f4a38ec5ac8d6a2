"""A run's history as replay, fork, resume and sweeps read it (and copy it between stores).

Generic over tables: ``export_run`` and ``import_run`` move every row that belongs to a run
(any table with a ``run_id`` column, plus the run row itself), so tables that other modules
add travel with a run without this module knowing them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Integer, Table, delete, insert, select, update
from sqlmodel import SQLModel

from traces.control import ControlRow
from traces.llm_calls import LLMCallRow
from traces.schema import ActionRow, LedgerEntryRow, PolicyVersionRow, RoundRow, RunRow, TransactionRow
from traces.spans import counts_row, stored_count, write_spans
from traces.store import Store

# Columns that legitimately differ between a run and its replay (fresh span ids, wall clock).
VOLATILE = frozenset({"span_id", "trace_id", "created_at", "started_at", "finished_at"})


def _by_round(rows: Sequence[Any], key: str = "round") -> dict[int, list[Any]]:
    out: dict[int, list[Any]] = defaultdict(list)
    for r in rows:
        out[getattr(r, key)].append(r)
    return dict(out)


def _all(store: Store, stmt: Any) -> list[Any]:
    with store.engine.connect() as conn:
        return list(conn.execute(stmt).all())


def _table(model: type[SQLModel]) -> Table:
    """A table model's ``Table`` (SQLModel sets ``__table__`` at class creation but does not declare it)."""
    return model.__table__  # type: ignore[attr-defined]  # set at class creation, not declared


def rounds_of(store: Store, run_id: str) -> dict[int, Any]:
    """The ``rounds`` rows of a run by round number."""
    rows = _all(store, select(_table(RoundRow)).where(_table(RoundRow).c.run_id == run_id))
    return {r.round: r for r in rows}


def actions_by_round(store: Store, run_id: str) -> dict[int, list[Any]]:
    """Recorded actions of a run grouped by round, in application order."""
    t = _table(ActionRow)
    return _by_round(_all(store, select(t).where(t.c.run_id == run_id).order_by(t.c.round, t.c.seq)))


def ledger_by_round(store: Store, run_id: str) -> dict[int, list[Any]]:
    """Recorded ledger postings of a run grouped by round, in order."""
    t = _table(LedgerEntryRow)
    return _by_round(_all(store, select(t).where(t.c.run_id == run_id).order_by(t.c.seq)))


def transactions_by_round(store: Store, run_id: str) -> dict[int, list[Any]]:
    """Recorded transactions of a run grouped by the round they settled or were refunded in."""
    t = _table(TransactionRow)
    return _by_round(_all(store, select(t).where(t.c.run_id == run_id).order_by(t.c.tx_id)), "settled_round")


def llm_calls_by_round(store: Store, run_id: str) -> dict[int, list[Any]]:
    """Recorded LLM call records of a run grouped by round, by agent then sequence."""
    t = _table(LLMCallRow)
    return _by_round(_all(store, select(t).where(t.c.run_id == run_id).order_by(t.c.round, t.c.agent_id, t.c.seq)))


def policy_versions(store: Store, run_id: str) -> list[Any]:
    """The policy timeline of a run: every version with the round it took effect, in order."""
    t = _table(PolicyVersionRow)
    return _all(store, select(t).where(t.c.run_id == run_id).order_by(t.c.version))


def applied_commands(store: Store, run_id: str) -> list[Any]:
    """Control commands that took effect in a run, oldest first."""
    t = _table(ControlRow)
    q = select(t).where(t.c.run_id == run_id, t.c.applied_round.is_not(None)).order_by(t.c.id)
    return _all(store, q)


def reopen_commands(store: Store, run_id: str, after_round: int) -> int:
    """Mark commands applied after ``after_round`` as pending again; returns how many.

    A command is marked applied in its own transaction at the start of a round, so a crash
    before that round commits leaves it marked for a round the record does not hold.
    """
    t = _table(ControlRow)
    with store.engine.begin() as conn:
        res = conn.execute(
            update(t)
            .where(t.c.run_id == run_id, t.c.applied_round > after_round)
            .values(applied_round=None, outcome=None)
        )
    return int(res.rowcount or 0)


def _run_tables() -> list[Table]:
    # the metadata is complete: traces/__init__.py imports every table module
    return [t for t in SQLModel.metadata.sorted_tables if "run_id" in t.c]


def export_run(store: Store, run_id: str) -> dict[str, list[dict[str, Any]]]:
    """Every row of a run, by table name (the run row under ``runs``)."""
    runs = _table(RunRow)
    out: dict[str, list[dict[str, Any]]] = {
        "runs": [dict(r._mapping) for r in _all(store, select(runs).where(runs.c.id == run_id))]
    }
    for t in _run_tables():
        rows = _all(store, select(t).where(t.c.run_id == run_id))
        if rows:
            out[t.name] = [dict(r._mapping) for r in rows]
    return out


def import_run(store: Store, rows: Mapping[str, Sequence[Mapping[str, Any]]]) -> None:
    """Insert rows exported by ``export_run`` into ``store`` in one transaction.

    Surrogate integer keys (``id`` columns the database numbers) are left for the target
    database to assign, so runs from many stores merge without clashes.
    """
    tables = SQLModel.metadata.tables
    _ = store.engine  # creates the schema
    with store.engine.begin() as conn:
        for name in ["runs", *(t.name for t in _run_tables())]:
            batch = rows.get(name)
            if not batch:
                continue
            table = tables[name]
            pk = list(table.primary_key.columns)
            surrogate = {pk[0].name} if len(pk) == 1 and isinstance(pk[0].type, Integer) and name != "runs" else set()
            conn.execute(insert(table), [{k: v for k, v in r.items() if k not in surrogate} for r in batch])


def delete_run(store: Store, run_id: str) -> None:
    """Remove every row of a run (used to clear a half-written sweep cell before a retry)."""
    with store.engine.begin() as conn:
        for t in reversed(_run_tables()):
            conn.execute(delete(t).where(t.c.run_id == run_id))
        conn.execute(delete(_table(RunRow)).where(_table(RunRow).c.id == run_id))


def copy_commands(store: Store, source_run: str, dest_run: str, upto_round: int) -> int:
    """Copy the commands a run applied up to ``upto_round`` to another run (a fork's own timeline)."""
    t = _table(ControlRow)
    rows = _all(store, select(t).where(t.c.run_id == source_run, t.c.applied_round <= upto_round).order_by(t.c.id))
    if rows:
        with store.engine.begin() as conn:
            conn.execute(
                insert(t), [{**{k: v for k, v in r._mapping.items() if k != "id"}, "run_id": dest_run} for r in rows]
            )
    return len(rows)


def rebase_span_counts(store: Store, run_id: str) -> int:
    """Account for spans a crashed segment committed with its rounds; returns how many were added.

    A segment writes the run's span counts when it ends, so a run killed mid-way leaves
    counts behind the spans its committed rounds hold. Those spans are in the record; a
    resumed segment's counts must start from them, or its loss check would see extra rows.
    """
    held = stored_count(store, run_id)
    prev = counts_row(store, run_id)
    base = prev.stored if prev is not None else 0
    extra = held - base
    if extra <= 0:
        return 0
    counts = {
        "started": (prev.started if prev else 0) + extra,
        "ended": (prev.ended if prev else 0) + extra,
        "stored": held,
        "otlp_exported": prev.otlp_exported if prev else 0,
        "otlp_failed": prev.otlp_failed if prev else 0,
        "ok": prev.ok if prev else True,
    }
    write_spans(store, run_id, [], counts)
    return extra
