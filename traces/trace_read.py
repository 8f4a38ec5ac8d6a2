"""The read API over spans, for the UI, replay and ``agora traces``.

Every query goes through SQLAlchemy expressions (never string-built SQL) and is served by
the indexes of ``traces.spans``. Times are nanoseconds since the epoch, as OpenTelemetry
records them; durations are nanoseconds too.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import case, func
from sqlmodel import Session, col, select

from protocols import semconv as sc
from traces.schema import TransactionRow
from traces.spans import SpanCountRow, SpanRow
from traces.store import Store

LLM_OPERATIONS = ("chat", "text_completion", "generate_content")
"""``gen_ai.operation.name`` values that are calls to a model."""


@dataclass(frozen=True)
class TraceNode:
    """A span placed in a tree: its depth below the shown root (0 for roots)."""

    span: SpanRow
    depth: int


@dataclass(frozen=True)
class RoundSpanStats:
    """Per-round span figures: how much happened and what it cost."""

    round: int
    spans: int
    submissions: int
    rejections: int
    turns: int
    llm_calls: int
    input_tokens: int
    output_tokens: int
    turn_ns: int  # summed duration of agent turns
    max_turn_ns: int


def _filtered(
    q: Any, run_id: str, agent: str | None, round_: int | None, operation: str | None, trace_id: str | None
) -> Any:
    q = q.where(SpanRow.run_id == run_id)
    if agent is not None:
        q = q.where(SpanRow.agent_id == agent)
    if round_ is not None:
        q = q.where(SpanRow.round == round_)
    if operation is not None:
        q = q.where(SpanRow.operation == operation)
    if trace_id is not None:
        q = q.where(SpanRow.trace_id == trace_id)
    return q


def spans(
    store: Store,
    run_id: str,
    *,
    agent: str | None = None,
    round_: int | None = None,
    operation: str | None = None,
    trace_id: str | None = None,
    offset: int = 0,
    limit: int | None = 100,
    after: tuple[int, str] | None = None,
) -> Sequence[SpanRow]:
    """Spans of a run in start order, filtered by agent, round, operation or trace; one page.

    ``operation`` is ``gen_ai.operation.name`` when the span has one (``chat``,
    ``invoke_agent``), else the span name (``protocol.submit``, ``market.settle``, ...).
    For deep pages pass ``after=(start_ns, span_id)`` of the last row seen instead of a large
    ``offset``: the index seeks to it rather than counting past every earlier row.
    """
    q = _filtered(select(SpanRow), run_id, agent, round_, operation, trace_id)
    if after is not None:
        start, sid = after
        q = q.where((col(SpanRow.start_ns) > start) | ((col(SpanRow.start_ns) == start) & (col(SpanRow.span_id) > sid)))
    q = q.order_by(col(SpanRow.start_ns), col(SpanRow.span_id)).offset(offset)
    if limit is not None:
        q = q.limit(limit)
    with Session(store.engine) as s:
        return s.exec(q).all()


def count_spans(
    store: Store,
    run_id: str,
    *,
    agent: str | None = None,
    round_: int | None = None,
    operation: str | None = None,
    trace_id: str | None = None,
) -> int:
    """How many spans ``spans`` would page through with the same filters."""
    q = _filtered(select(func.count()).select_from(SpanRow), run_id, agent, round_, operation, trace_id)
    with Session(store.engine) as s:
        return int(s.exec(q).one())


def span(store: Store, run_id: str, span_id: str) -> SpanRow | None:
    """One span of a run by its id (16 hex digits)."""
    with Session(store.engine) as s:
        return s.get(SpanRow, (run_id, span_id))


def children(store: Store, run_id: str, span_id: str) -> Sequence[SpanRow]:
    """The direct children of a span, in start order (ties by span id: the same order whatever order rows were written in)."""
    q = select(SpanRow).where(SpanRow.run_id == run_id, SpanRow.parent_id == span_id)
    with Session(store.engine) as s:
        return s.exec(q.order_by(col(SpanRow.start_ns), col(SpanRow.span_id))).all()


def llm_calls(
    store: Store, run_id: str, agent: str | None = None, *, offset: int = 0, limit: int | None = None
) -> Sequence[SpanRow]:
    """Model calls (``chat`` spans) of a run, or of one agent, in the order they started; paged."""
    q = select(SpanRow).where(SpanRow.run_id == run_id, col(SpanRow.operation).in_(LLM_OPERATIONS))
    if agent is not None:
        q = q.where(SpanRow.agent_id == agent)
    q = q.order_by(col(SpanRow.start_ns), col(SpanRow.span_id)).offset(offset)
    if limit is not None:
        q = q.limit(limit)
    with Session(store.engine) as s:
        return s.exec(q).all()


def shown_parent(row: SpanRow) -> str | None:
    """The span a row sits under when shown: its parent, or for a round (the root of a trace of
    its own) the ``session.run`` span it links to, so a run still reads as one tree."""
    if row.parent_id is not None or row.name != sc.SPAN_ROUND or not row.links_json:
        return row.parent_id
    links = json.loads(row.links_json)
    return links[0]["span_id"] if links else None


def tree(rows: Iterable[SpanRow]) -> list[TraceNode]:
    """Order spans depth-first under their (shown) parents; spans whose parent is absent become roots."""
    rows = list(rows)
    ids = {r.span_id for r in rows}
    kids: dict[str | None, list[SpanRow]] = {}
    for r in rows:
        parent = shown_parent(r)
        kids.setdefault(parent if parent in ids else None, []).append(r)
    for group in kids.values():
        group.sort(key=lambda r: (r.start_ns, r.span_id))
    out: list[TraceNode] = []
    stack = [(r, 0) for r in reversed(kids.get(None, []))]
    while stack:
        r, depth = stack.pop()
        out.append(TraceNode(r, depth))
        stack.extend((c, depth + 1) for c in reversed(kids.get(r.span_id, [])))
    return out


def _ancestors_and_descendants(
    s: Session, run_id: str, seed: dict[str, SpanRow], descend_from: set[str]
) -> dict[str, SpanRow]:
    found = dict(seed)
    wanted = {p for r in seed.values() if (p := shown_parent(r)) and p not in found}
    while wanted:
        got = s.exec(select(SpanRow).where(SpanRow.run_id == run_id, col(SpanRow.span_id).in_(wanted))).all()
        found.update({r.span_id: r for r in got})
        wanted = {p for r in got if (p := shown_parent(r)) and p not in found}
    frontier = set(descend_from)
    while frontier:
        got = s.exec(select(SpanRow).where(SpanRow.run_id == run_id, col(SpanRow.parent_id).in_(frontier))).all()
        new = {r.span_id: r for r in got if r.span_id not in found}
        found.update(new)
        frontier = set(new)
    return found


def transaction_trace(store: Store, run_id: str, tx_id: int) -> list[TraceNode]:
    """The trace tree behind one transaction.

    Its negotiation's submissions and its settlement, the two parties' turns in the rounds
    where they moved (with every model call inside those turns), and the round and session
    spans above them, depth-first. Empty if the transaction or its spans are not recorded.
    """
    with Session(store.engine) as s:
        tx = s.get(TransactionRow, (run_id, tx_id))
        if tx is None:
            return []
        moves = s.exec(select(SpanRow).where(SpanRow.run_id == run_id, SpanRow.thread_id == tx.thread_id)).all()
        moves = [m for m in moves if m.operation != sc.SPAN_SETTLE or m.attrs().get(sc.TX_ID) == tx_id]
        rounds = {m.round for m in moves if m.operation == sc.SPAN_SUBMIT}
        turns = s.exec(
            select(SpanRow).where(
                SpanRow.run_id == run_id,
                col(SpanRow.operation).in_(sc.TURN_OPERATIONS),
                col(SpanRow.agent_id).in_((tx.buyer, tx.seller)),
                col(SpanRow.round).in_(rounds),
            )
        ).all()
        seed = {r.span_id: r for r in [*moves, *turns]}
        found = _ancestors_and_descendants(s, run_id, seed, {t.span_id for t in turns})
    return tree(found.values())


def operation_counts(store: Store, run_id: str) -> dict[str, int]:
    """Spans of a run by operation, most frequent first."""
    q = select(SpanRow.operation, func.count()).where(SpanRow.run_id == run_id).group_by(SpanRow.operation)
    with Session(store.engine) as s:
        return dict(sorted(((op, int(n)) for op, n in s.exec(q).all()), key=lambda kv: (-kv[1], kv[0])))


def token_usage(store: Store, run_id: str) -> dict[str, tuple[int, int]]:
    """Input and output tokens of a run's model calls by agent (``""`` for calls without one)."""
    q = (
        select(
            SpanRow.agent_id,
            func.coalesce(func.sum(SpanRow.input_tokens), 0),
            func.coalesce(func.sum(SpanRow.output_tokens), 0),
        )
        .where(SpanRow.run_id == run_id, col(SpanRow.operation).in_(LLM_OPERATIONS))
        .group_by(SpanRow.agent_id)
    )
    with Session(store.engine) as s:
        return {a or "": (int(i), int(o)) for a, i, o in s.exec(q).all()}  # type: ignore[arg-type]  # COALESCE(.., 0) is never NULL


def rejections(store: Store, run_id: str) -> dict[str, int]:
    """Rejected submissions of a run by the rule that decided, most frequent first."""
    q = (
        select(SpanRow.rule, func.count())
        .where(SpanRow.run_id == run_id, SpanRow.operation == sc.SPAN_SUBMIT, SpanRow.verdict == sc.VERDICT_REJECTED)
        .group_by(SpanRow.rule)
    )
    with Session(store.engine) as s:
        return dict(sorted(((r or "", int(n)) for r, n in s.exec(q).all()), key=lambda kv: (-kv[1], kv[0])))


def slowest(
    store: Store, run_id: str, n: int = 10, operation: str | None = None, exclude: Sequence[str] = ()
) -> Sequence[SpanRow]:
    """The ``n`` longest spans of a run (of one operation, or leaving some out), longest first (ties by span id)."""
    q = select(SpanRow).where(SpanRow.run_id == run_id)
    if operation is not None:
        q = q.where(SpanRow.operation == operation)
    if exclude:
        q = q.where(col(SpanRow.operation).not_in(exclude))
    with Session(store.engine) as s:
        return s.exec(q.order_by(col(SpanRow.duration_ns).desc(), col(SpanRow.span_id)).limit(n)).all()


def round_series(store: Store, run_id: str) -> list[RoundSpanStats]:
    """Per-round counts and costs (spans, submissions, rejections, turns, model calls, tokens, turn time)."""
    is_turn = col(SpanRow.operation).in_(sc.TURN_OPERATIONS)
    is_llm = col(SpanRow.operation).in_(LLM_OPERATIONS)
    q = (
        select(  # type: ignore[call-overload]  # sqlmodel types select() for up to 4 columns
            SpanRow.round,
            func.count(),
            func.sum(case((col(SpanRow.operation) == sc.SPAN_SUBMIT, 1), else_=0)),
            func.sum(case((col(SpanRow.verdict) == sc.VERDICT_REJECTED, 1), else_=0)),
            func.sum(case((is_turn, 1), else_=0)),
            func.sum(case((is_llm, 1), else_=0)),
            func.coalesce(func.sum(case((is_llm, SpanRow.input_tokens), else_=0)), 0),
            func.coalesce(func.sum(case((is_llm, SpanRow.output_tokens), else_=0)), 0),
            func.coalesce(func.sum(case((is_turn, SpanRow.duration_ns), else_=0)), 0),
            func.coalesce(func.max(case((is_turn, SpanRow.duration_ns), else_=0)), 0),
        )
        .where(SpanRow.run_id == run_id, col(SpanRow.round).is_not(None))
        .group_by(SpanRow.round)
        .order_by(SpanRow.round)
    )
    with Session(store.engine) as s:
        return [RoundSpanStats(*(int(v) for v in row)) for row in s.exec(q).all()]


def span_counts(store: Store, run_id: str) -> SpanCountRow | None:
    """The started / ended / stored counts the run recorded when it ended (None if it never did)."""
    with Session(store.engine) as s:
        return s.get(SpanCountRow, run_id)
