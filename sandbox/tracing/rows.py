"""Spans made as their rows, without the SDK: a scripted agent's turn, a wait, a submission, a settlement.

While a round's span is current and recording, the spans made once per agent or action under it
are written straight as the row the SDK span would have made (``traces.spans``: a tuple in
``SPAN_COLUMNS`` order), held here and handed to the run (``RunTrace.add_rows``: counted as
started and ended) when the round ends, then staged with the round's records. Their ids ascend
within a traced segment (a random prefix from the SDK's id generator, then a counter), so the
store's key index is appended to. A scripted turn is still made current (as a non-recording span
with its ids) so any span started inside nests under it. OTLP export rebuilds each span from its
row, so a collector sees the same tree. These spans do not pass through span processors added to
the SDK provider.

A turn and a submission whose facts have the plain types the columns hold (the common case) are
made from their columns directly; anything else (an error, an attribute of another type) goes
through ``traces.spans.row_tuple``, which moves attributes to columns as ``span_row`` does.
"""

from __future__ import annotations

import itertools
import traceback
from collections.abc import Callable, Sequence
from time import time_ns
from typing import TYPE_CHECKING, Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags
from opentelemetry.trace.span import DEFAULT_TRACE_STATE

from protocols import semconv as sc
from traces.spans import encode_attributes, hex_ids, row_tuple, span_tuple

if TYPE_CHECKING:
    from agents.base import Agent
    from agents.observation import Observation
    from sandbox.record import ActionRecord
    from traces.otel import RunTrace

_SAMPLED = TraceFlags(TraceFlags.SAMPLED)
_SPAN_KEY = next(iter(trace.set_span_in_context(trace.INVALID_SPAN, Context())))  # the context's key of its span
_CACHE_MAX = 4096  # turn attribute texts kept (one per role, kind and action count)
_set_item = dict.__setitem__  # a Context is a dict that refuses item assignment: filled before anyone sees it
_new_tuple, _new_object = tuple.__new__, object.__new__


def exception_event(err: BaseException) -> tuple[str, int, dict[str, Any]]:
    """The event the SDK's ``Span.record_exception`` adds, made by hand."""
    module, qualname = type(err).__module__, type(err).__qualname__
    return (
        "exception",
        time_ns(),
        {
            "exception.type": f"{module}.{qualname}" if module and module != "builtins" else qualname,
            "exception.message": str(err),
            "exception.stacktrace": "".join(traceback.format_exception(err)),
            "exception.escaped": "False",
        },
    )


def _context_var() -> tuple[Callable[[], Any], Callable[[Any], Any], Callable[[Any], None]]:
    """Get, attach and detach of the current OpenTelemetry context: its context variable's own methods
    where the SDK keeps one (the API's functions add two calls and a try each), else the API's."""
    from opentelemetry.context import _RUNTIME_CONTEXT

    var = getattr(_RUNTIME_CONTEXT, "_current_context", None)
    if var is None:
        return otel_context.get_current, otel_context.attach, otel_context.detach
    return var.get, var.set, var.reset


current_context, _attach, _detach = _context_var()


def n_actions(out: Any) -> int:
    """``agora.agent.actions`` of a turn: how many items the agent returned (a lone action counts as one)."""
    return len(out) if isinstance(out, (list, tuple)) else 1


def turn_attrs(agent_id: str, role: str, kind: str, round_: int) -> dict[str, Any]:
    """The attributes of an agent's turn every turn has (an LLM agent's add the GenAI names)."""
    return {sc.AGENT_ID: agent_id, sc.AGENT_ROLE: role, sc.AGENT_KIND: kind, sc.ROUND: round_}


def submit_attrs(
    record: ActionRecord, round_: int, price: int | None, listing: Any, counterparty: str | None
) -> dict[str, Any]:
    """Every attribute of a ``protocol.submit`` span, in the order they are set."""
    v = record.verdict
    attrs: dict[str, Any] = {
        sc.AGENT_ID: record.agent_id,
        sc.ROUND: round_,
        sc.ACTION_TYPE: record.action_type,
        sc.ACTION_SEQ: record.seq,
        sc.VERDICT: sc.VERDICT_ACCEPTED if v.accepted else sc.VERDICT_REJECTED,
        sc.VERDICT_RULE: v.rule,
        sc.VERDICT_REASON: v.reason,
        sc.ACTION_JSON: record.payload,
    }
    if price is not None:
        attrs[sc.PRICE] = price
    if listing:
        attrs[sc.LISTING_ID] = listing
    if record.thread_id is not None:
        attrs[sc.THREAD_ID] = record.thread_id
        if counterparty is not None:
            attrs[sc.COUNTERPARTY] = counterparty
    return attrs


class RowSpans:
    """The spans of a traced segment made as rows under the current round's span."""

    def __init__(self) -> None:
        self.rows: list[tuple[Any, ...]] = []  # made since the last hand-over
        self.run_id = ""
        self.trace_id = 0  # the round's trace, while rows can be made (else 0)
        self._trace_hex = self._parent_hex = ""
        self.round_ctx: Any = None  # the context the round attached (read by the tracer's quick check)
        self._round_span: Any = None
        self._new_id: Callable[[], int] | None = None
        self._turn_json: dict[tuple[str, str, int], str] = {}  # (role, kind, actions) -> a turn's attributes_json

    @property
    def ready(self) -> bool:
        """Whether a segment's ids are set up (the SDK tracer hands out an id generator)."""
        return self._new_id is not None

    def segment(self, run_id: str, ids: Any) -> None:
        """A traced segment begins: ids from ``ids`` (the SDK's id generator) as a random 32-bit prefix and a counter."""
        self.run_id = run_id
        self._new_id = None
        if ids is not None:
            base = (ids.generate_span_id() & 0xFFFFFFFF00000000) or 1 << 32
            self._new_id = itertools.count(base + 1).__next__

    def begin_round(self, span: Any, ctx: Any) -> None:
        """Rows are made under ``span`` (recording, bound to this run) while ``ctx`` is current."""
        ids = span.get_span_context()
        self.trace_id = ids.trace_id
        self._trace_hex, self._parent_hex = hex_ids(ids.trace_id, ids.span_id)
        self.round_ctx, self._round_span = ctx, span

    def end_round(self) -> None:
        """No rows after the round's block."""
        self.trace_id = 0
        self.round_ctx = self._round_span = None

    def current(self) -> bool:
        """Whether a span started now can be made as its row: the round's span is the current span."""
        return bool(self.trace_id) and (
            current_context() is self.round_ctx or trace.get_current_span() is self._round_span
        )

    def hand_over(self, run: RunTrace | None) -> None:
        """Give the rows made so far to ``run`` (counted there as started, ended and held)."""
        rows, self.rows = self.rows, []
        if run is not None and rows:
            run.add_rows(rows)

    def new_span_hex(self) -> str:
        """A fresh span id, as the 16 hex digits a row stores."""
        assert self._new_id is not None
        return "%016x" % self._new_id()  # noqa: UP031  (format(id, "016x") takes twice the time)

    def emit(
        self, name: str, attrs: dict[str, Any], start: int, end: int, span_hex: str | None = None, **extra: Any
    ) -> str:
        """Any span under the round's span as its row (``row_tuple``); returns its span id in hex."""
        if None in attrs.values():  # the SDK drops attributes set to None
            attrs = {k: v for k, v in attrs.items() if v is not None}
        if span_hex is None:
            span_hex = self.new_span_hex()
        self.rows.append(
            row_tuple(self.run_id, name, self._trace_hex, span_hex, self._parent_hex, start, end, attrs, **extra)
        )
        return span_hex

    def decide(
        self, agent: Agent, obs: Observation, round_: int, carriers: dict[int, Any], turns: dict[str, str]
    ) -> Sequence[Any]:
        """A scripted turn whose span is made as its row; a non-recording span with its ids is current meanwhile.

        The turn's span id goes into ``turns`` (by agent) and ``carriers`` (while it runs: its agent and
        round, for spans started inside).
        """
        start = time_ns()
        aid, role, kind = agent.id, agent.role, agent.kind  # the turn's attributes, as they are before it runs
        assert self._new_id is not None
        sid = self._new_id()
        turns[aid] = sid_hex = "%016x" % sid  # noqa: UP031  (half of format()'s time)
        carriers[sid] = (aid, round_)
        ctx = Context(self.round_ctx)  # what trace.set_span_in_context does, without its two calls and a copy
        # NonRecordingSpan(SpanContext(...)) without their two Python calls: the tuple SpanContext.__new__ makes
        # (both ids valid: a recording round's trace id, a counter's span id), the attribute __init__ sets
        span = _new_object(NonRecordingSpan)
        span._context = _new_tuple(SpanContext, (self.trace_id, sid, False, _SAMPLED, DEFAULT_TRACE_STATE, True))
        _set_item(ctx, _SPAN_KEY, span)
        token = _attach(ctx)
        try:
            out = agent.decide(obs)
        except BaseException as err:
            _detach(token)
            carriers.pop(sid, None)
            self.emit(
                sc.SPAN_AGENT_DECIDE,
                turn_attrs(aid, role, kind, round_),
                start,
                time_ns(),
                sid_hex,
                events=(exception_event(err),),
                status="ERROR",
                status_message=f"{type(err).__name__}: {err}",
            )
            raise
        _detach(token)
        carriers.pop(sid, None)
        end = time_ns()
        n = len(out) if isinstance(out, (list, tuple)) else 1  # n_actions, inlined
        if type(aid) is str and type(round_) is int and type(role) is str and type(kind) is str:
            key = (role, kind, n)
            text = self._turn_json.get(key)
            if text is None:
                if len(self._turn_json) >= _CACHE_MAX:
                    self._turn_json.clear()
                attrs = {sc.AGENT_ROLE: role, sc.AGENT_KIND: kind, sc.AGENT_ACTIONS: n}
                text = self._turn_json[key] = encode_attributes(attrs)
            self.rows.append(
                span_tuple(
                    self.run_id,
                    sc.SPAN_AGENT_DECIDE,
                    self._trace_hex,
                    sid_hex,
                    self._parent_hex,
                    start,
                    end,
                    text,
                    aid,
                    round_,
                )
            )
        else:
            attrs = turn_attrs(aid, role, kind, round_)
            attrs[sc.AGENT_ACTIONS] = n
            self.emit(sc.SPAN_AGENT_DECIDE, attrs, start, end, sid_hex)
        return out

    def submit(
        self, record: ActionRecord, round_: int, start: int, price: int | None, listing: Any, counterparty: str | None
    ) -> str:
        """The ``protocol.submit`` span of one submitted item as its row; returns its span id in hex."""
        end = time_ns()
        v = record.verdict
        aid, kind, rule, reason, payload, tid, seq = (
            record.agent_id,
            record.action_type,
            v.rule,
            v.reason,
            record.payload,
            record.thread_id,
            record.seq,
        )
        plain = (
            type(aid) is str
            and type(kind) is str
            and type(rule) is str
            and (tid is None or type(tid) is str)
            and type(round_) is int
            and None not in (reason, payload, seq)
        )
        if not plain:
            return self.emit(sc.SPAN_SUBMIT, submit_attrs(record, round_, price, listing, counterparty), start, end)
        attrs: dict[str, Any] = {sc.ACTION_SEQ: seq, sc.VERDICT_REASON: reason, sc.ACTION_JSON: payload}
        if price is not None:
            attrs[sc.PRICE] = price
        if listing:
            attrs[sc.LISTING_ID] = listing
        if tid is not None and counterparty is not None:
            attrs[sc.COUNTERPARTY] = counterparty
        sid_hex = self.new_span_hex()
        verdict = sc.VERDICT_ACCEPTED if v.accepted else sc.VERDICT_REJECTED
        self.rows.append(
            span_tuple(
                self.run_id,
                sc.SPAN_SUBMIT,
                self._trace_hex,
                sid_hex,
                self._parent_hex,
                start,
                end,
                encode_attributes(attrs),
                aid,
                round_,
                tid,
                kind,
                verdict,
                rule,
            )
        )
        return sid_hex
