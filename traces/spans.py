"""The span table, the per-run span counts, and idempotent span writes.

Real columns hold what the UI and the audit filter on (run, trace, parent, agent, round,
operation, model, tokens, status, times in nanoseconds); every other attribute, and every
event and link, is kept as JSON beside them. An attribute held by a column (``COLUMN_ATTRIBUTES``:
the agent, round, thread, action type, verdict, rule, model and token counts) is written once,
in its column, not repeated in ``attributes_json``; ``attributes_of`` (and ``SpanRow.attrs``,
OTLP export, the UI, ``traces.frames``) puts it back, so a span reads with every attribute it
had. Rows written before (attributes in both places) read the same. Span rows are written insert-or-ignore on ``span_id``, so
exporting the same span twice leaves one row, on SQLite and on PostgreSQL alike.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping, Sequence
from operator import itemgetter
from typing import Any

from sqlalchemy import BigInteger, Column, Index, Text, func, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Field, SQLModel, col
from sqlmodel import Session as SqlSession

from protocols import semconv as sc
from traces.redact import cap_text, redact_rows, redact_tuples
from traces.span_attributes import (  # the attribute encoding and columns, re-exported (traces/span_attributes.py)
    _NO_COLUMNS,
    COLUMN_ATTRIBUTES,  # noqa: F401
    _attributes,
    _capped,
    _columns_out,
    _hex_span,
    _json,
    _move_columns,
    _name,
    _trace_hex,
    attributes_json_of,  # noqa: F401
    attributes_of,
    encode_attributes,
)
from traces.store import Store, insert_ignoring, insert_tuples

CHUNK = 2000  # rows per INSERT statement; keeps statements well under driver parameter limits


_HAS_THREAD = text("thread_id IS NOT NULL")
# the values a round's span rows repeat: bound once a multi-row INSERT on SQLite (traces.multirow)
_SHARED = ("run_id", "trace_id", "parent_id", "name", "operation", "kind", "status")


class SpanRow(SQLModel, table=True):
    """One ended OpenTelemetry span of a run."""

    __tablename__ = "spans"
    __table_args__ = (
        Index("ix_spans_run_start", "run_id", "start_ns"),
        # one index for a round's spans and an agent's spans in a round: a round's entries are appended
        # together, where an agent-first key scattered every round's writes over one page per agent
        # (stores made before 2026-12-03 keep ix_spans_run_agent_start and ix_spans_run_round instead)
        Index("ix_spans_run_round_agent", "run_id", "round", "agent_id", "start_ns"),
        Index("ix_spans_run_op_start", "run_id", "operation", "start_ns"),
        # partial: only spans of a negotiation (most spans, a turn or an order on a book, have no thread)
        Index("ix_spans_run_thread", "run_id", "thread_id", sqlite_where=_HAS_THREAD, postgresql_where=_HAS_THREAD),
        Index("ix_spans_run_parent", "run_id", "parent_id"),
        {"info": {"idempotent": True, "shared": _SHARED}},
    )

    # (run_id, span_id) as the key: a run's rows sit together in every index, so inserts touch
    # a few hot pages instead of random pages across a database of many runs
    run_id: str = Field(primary_key=True)
    span_id: str = Field(primary_key=True, max_length=16, description="16 hex digits")
    trace_id: str = Field(max_length=32, description="32 hex digits")
    parent_id: str | None = Field(default=None, max_length=16)
    name: str
    operation: str = Field(description="gen_ai.operation.name, or the span name")
    kind: str = "INTERNAL"
    agent_id: str | None = None
    round: int | None = None
    thread_id: str | None = None
    action_type: str | None = None
    verdict: str | None = Field(default=None, description="accepted or rejected (submissions)")
    rule: str | None = Field(default=None, description="the rule that decided (submissions)")
    model: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    status: str = Field(default="UNSET", description="UNSET, OK or ERROR")
    status_message: str | None = Field(default=None, sa_column=Column(Text))
    start_ns: int = Field(sa_column=Column(BigInteger, nullable=False))
    end_ns: int = Field(sa_column=Column(BigInteger, nullable=False))
    duration_ns: int = Field(sa_column=Column(BigInteger, nullable=False))
    attributes_json: str = Field(sa_column=Column(Text, nullable=False))
    events_json: str | None = Field(default=None, sa_column=Column(Text))
    links_json: str | None = Field(default=None, sa_column=Column(Text))

    def attrs(self) -> dict[str, Any]:
        """The span's attributes as a dict (those kept only in columns put back: ``attributes_of``)."""
        return attributes_of(self)

    def events(self) -> list[dict[str, Any]]:
        """The span's events (name, time in ns, attributes)."""
        return json.loads(self.events_json) if self.events_json else []


class SpanCountRow(SQLModel, table=True):
    """How many spans a run started, ended and stored: the proof that nothing was lost."""

    __tablename__ = "span_counts"

    run_id: str = Field(primary_key=True)
    started: int = Field(sa_column=Column(BigInteger, nullable=False))
    ended: int = Field(sa_column=Column(BigInteger, nullable=False))
    stored: int = Field(sa_column=Column(BigInteger, nullable=False))
    in_store: int = Field(sa_column=Column(BigInteger, nullable=False), description="rows counted in the table")
    otlp_exported: int = 0
    otlp_failed: int = 0
    ok: bool = Field(description="started == ended == stored when last checked")
    checked_at: float


def span_row(span: Any, run_id: str, capture_content: bool = True) -> dict[str, Any]:
    """A ``spans`` row for an ended SDK span (``ReadableSpan``)."""
    attrs = _attributes(span)
    if not capture_content:
        for key in sc.GEN_AI_CONTENT:
            attrs.pop(key, None)
    get = attrs.get
    ctx, parent, status = span.context, span.parent, span.status
    start, end = span.start_time or 0, span.end_time or 0
    # the SDK's ReadableSpan hands out tuple copies of these; read them in place when it can
    events = getattr(span, "_events", None)
    if events is None:
        events = span.events
    links = getattr(span, "_links", None)
    if links is None:
        links = span.links
    row = {
        "span_id": _hex_span(ctx.span_id),
        "trace_id": _trace_hex(ctx.trace_id),
        "parent_id": _hex_span(parent.span_id) if parent is not None else None,
        "run_id": run_id,
        "name": span.name,
        "operation": get(sc.GEN_AI_OPERATION) or span.name,
        "kind": _name(span.kind),
    }
    _move_columns(attrs, row)
    row.update(
        {
            "status": _name(status.status_code),
            "status_message": cap_text(status.description),
            "start_ns": start,
            "end_ns": end,
            "duration_ns": end - start,
            "attributes_json": encode_attributes(attrs),
            "events_json": _json(
                [{"name": e.name, "time_ns": e.timestamp, "attributes": _capped(e.attributes)} for e in events]
            )
            if events
            else None,
            "links_json": _json(
                [
                    {
                        "trace_id": format(lk.context.trace_id, "032x"),
                        "span_id": _hex_span(lk.context.span_id),
                        "attributes": dict(lk.attributes or {}),
                    }
                    for lk in links
                ]
            )
            if links
            else None,
        }
    )
    return row


SPAN_COLUMNS: tuple[str, ...] = tuple(SpanRow.__table__.columns.keys())  # type: ignore[attr-defined]
"""The span table's columns in table order: the order of a row held as a tuple (``row_tuple``, ``span_tuple``)."""

_AS_TUPLE = itemgetter(*SPAN_COLUMNS)


def as_tuple(row: Mapping[str, Any] | tuple[Any, ...]) -> tuple[Any, ...]:
    """A span row as the tuple of its columns in ``SPAN_COLUMNS`` order (a tuple is returned as it is)."""
    return row if isinstance(row, tuple) else _AS_TUPLE(row)


def as_mapping(row: Mapping[str, Any] | tuple[Any, ...]) -> Mapping[str, Any]:
    """A span row by column name (a tuple in ``SPAN_COLUMNS`` order made a dict)."""
    return dict(zip(SPAN_COLUMNS, row, strict=True)) if isinstance(row, tuple) else row


def span_tuple(
    run_id: str,
    name: str,
    trace_hex: str,
    span_hex: str,
    parent_hex: str | None,
    start: int,
    end: int,
    attributes_json: str,
    agent_id: str | None = None,
    round_: int | None = None,
    thread_id: str | None = None,
    action_type: str | None = None,
    verdict: str | None = None,
    rule: str | None = None,
) -> tuple[Any, ...]:
    """The row of an INTERNAL span with status UNSET, no events and no links, from its columns already split.

    The caller has moved the column-held attributes (``COLUMN_ATTRIBUTES``: each of exactly its
    column's type) out of the attributes ``attributes_json`` encodes (``encode_attributes``), and the
    span's operation is its name (no ``gen_ai.operation.name``): the row ``row_tuple`` makes of the
    same span, made without looking at the attributes again.
    """
    return (
        run_id,
        span_hex,
        trace_hex,
        parent_hex,
        name,
        name,
        "INTERNAL",
        agent_id,
        round_,
        thread_id,
        action_type,
        verdict,
        rule,
        None,
        None,
        None,
        "UNSET",
        None,
        start,
        end,
        end - start,
        attributes_json,
        None,
        None,
    )


def row_tuple(
    run_id: str,
    name: str,
    trace_hex: str,
    span_hex: str,
    parent_hex: str | None,
    start: int,
    end: int,
    attrs: dict[str, Any],
    *,
    status: str = "UNSET",
    status_message: str | None = None,
    events: Sequence[tuple[str, int, dict[str, Any]]] = (),
    links: Sequence[tuple[int, int, dict[str, Any]]] = (),
) -> tuple[Any, ...]:
    """The row ``span_row`` would make of an INTERNAL span with these facts, made without the SDK, as a tuple.

    The ids come as the hex text the row stores (32 digits for the trace, 16 for spans: ``hex_ids``),
    so a caller that already has them formats none again. ``attrs`` must hold only values the SDK
    keeps as they are (str, bool, int, float, no None); it is taken over (the column-held attributes
    are moved out of it into the row). ``events`` are (name, time in ns, attributes), ``links``
    (trace id, span id, attributes).
    """
    operation = attrs.get(sc.GEN_AI_OPERATION) or name
    cols = _NO_COLUMNS.copy()
    _columns_out(attrs, cols)
    return (
        run_id,
        span_hex,
        trace_hex,
        parent_hex,
        name,
        operation,
        "INTERNAL",
        *cols.values(),
        status,
        cap_text(status_message) if status_message is not None else None,
        start,
        end,
        end - start,
        encode_attributes(attrs),
        _json([{"name": n, "time_ns": t, "attributes": _capped(a)} for n, t, a in events]) if events else None,
        _json(
            [{"trace_id": format(t, "032x"), "span_id": format(s, "016x"), "attributes": dict(a)} for t, s, a in links]
        )
        if links
        else None,
    )


def hex_ids(trace_id: int, span_id: int) -> tuple[str, str]:
    """A trace id and a span id as the hex text a ``spans`` row stores them in."""
    return _trace_hex(trace_id), "%016x" % span_id  # noqa: UP031  (half of format()'s time)


def readable_from_row(row: Mapping[str, Any] | tuple[Any, ...], resource: Any, scope: Any) -> Any:
    """The SDK ``ReadableSpan`` a ``spans`` row (by name or a tuple) stands for (OTLP export of rows made without the SDK)."""
    from opentelemetry.sdk.trace import Event, ReadableSpan
    from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceFlags

    row = as_mapping(row)

    flags = TraceFlags(TraceFlags.SAMPLED)
    trace_id = int(row["trace_id"], 16)
    parent = row["parent_id"]
    code = StatusCode[row["status"]]
    return ReadableSpan(
        name=row["name"],
        context=SpanContext(trace_id, int(row["span_id"], 16), False, flags),
        parent=SpanContext(trace_id, int(parent, 16), False, flags) if parent else None,
        resource=resource,
        attributes=attributes_of(row),
        events=[Event(e["name"], e["attributes"], e["time_ns"]) for e in json.loads(row["events_json"] or "[]")],
        links=[
            Link(SpanContext(int(lk["trace_id"], 16), int(lk["span_id"], 16), False, flags), lk["attributes"])
            for lk in json.loads(row["links_json"] or "[]")
        ],
        kind=SpanKind[row["kind"]],
        status=Status(code, row["status_message"]) if code is StatusCode.ERROR else Status(code),
        start_time=row["start_ns"],
        end_time=row["end_ns"],
        instrumentation_scope=scope,
    )


def write_spans(
    store: Store,
    run_id: str,
    rows: Sequence[Mapping[str, Any] | tuple[Any, ...]],
    counts: Mapping[str, Any] | None = None,
) -> int:
    """Write span rows (tuples in ``SPAN_COLUMNS`` order, or by name: a column left out takes its default;
    insert-or-ignore) and, if given, the run's counts, in one transaction.

    Returns how many span rows of ``run_id`` the store holds once the rows are in.
    """
    table = SpanRow.__table__  # type: ignore[attr-defined]
    tuples = [r for r in rows if isinstance(r, tuple)]
    named = [dict(r) for r in rows if not isinstance(r, tuple)]
    redact_tuples(tuples)  # keys and tokens the run was given never reach the store (traces.redact)
    redact_rows(named)
    with store.engine.begin() as conn:
        for i in range(0, len(tuples), CHUNK):
            insert_tuples(conn, table, SPAN_COLUMNS, tuples[i : i + CHUNK])
        stmt = insert_ignoring(table, conn.dialect.name)
        for i in range(0, len(named), CHUNK):
            conn.execute(stmt, named[i : i + CHUNK])
        in_store = _count(conn, run_id)
        if counts is not None:
            _upsert_counts(conn, {**counts, "run_id": run_id, "in_store": in_store})
    return in_store


def _count(conn: Any, run_id: str) -> int:
    return int(
        conn.execute(select(func.count()).select_from(SpanRow).where(col(SpanRow.run_id) == run_id)).scalar_one()
    )


def _upsert_counts(conn: Any, counts: Mapping[str, Any]) -> None:
    row = {**counts, "checked_at": time.time()}
    table = SpanCountRow.__table__  # type: ignore[attr-defined]
    mod = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = mod.insert(table).values(row)
    conn.execute(
        stmt.on_conflict_do_update(index_elements=["run_id"], set_={k: v for k, v in row.items() if k != "run_id"})
    )


def stored_count(store: Store, run_id: str) -> int:
    """How many span rows the store holds for a run."""
    with store.engine.connect() as conn:
        return _count(conn, run_id)


def counts_row(store: Store, run_id: str) -> SpanCountRow | None:
    """The run's span counts as last written, if any."""
    with SqlSession(store.engine) as s:
        return s.get(SpanCountRow, run_id)


def rows_of(spans: Iterable[Any], run_id: str, capture_content: bool) -> list[dict[str, Any]]:
    """``span_row`` over many spans."""
    return [span_row(s, run_id, capture_content) for s in spans]
