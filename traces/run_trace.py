"""The spans of one run: counted as they start and end, held, then written in the run's flow.

``RunTrace`` is what ``traces.otel``'s router fills for a registered run. ``stage`` puts the
held spans into a round's batch (one transaction with the round's records) and ``confirm``
counts them as stored once it commits; ``flush`` writes the rest in a transaction of its own
and ``close`` checks that started == ended == stored. A failed write keeps every span.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from opentelemetry.sdk.trace import ReadableSpan
from sqlalchemy.exc import SQLAlchemyError

from traces.otlp import without_content
from traces.spans import SPAN_COLUMNS, as_tuple, counts_row, readable_from_row, span_row, stored_count, write_spans
from traces.store import RoundBatch, StoreError

if TYPE_CHECKING:
    from traces.otel import Tracing

log = logging.getLogger(__name__)


class TraceError(RuntimeError):
    """Spans of a run were not all recorded; the message says what happened and what to do."""


class TraceStoreError(TraceError):
    """The store refused the spans; they are kept in memory for a retry."""


class TraceLossError(TraceError):
    """The counts of started, ended and stored spans disagree."""


@dataclass(frozen=True)
class SpanCounts:
    """How many spans a run started, ended and stored, and how many are still held."""

    started: int
    ended: int
    stored: int
    pending: int
    otlp_exported: int = 0
    otlp_failed: int = 0


class _Unsent(tuple):
    """The row of a span made while the collector was down: stored, never handed to the collector."""

    __slots__ = ()


SCOPE = "agora.sandbox"  # the instrumentation scope of the session's spans (sandbox.tracing)


def _rebuild() -> Any:
    """Row -> ``ReadableSpan`` with the process provider's resource and the session's scope."""
    from opentelemetry import trace
    from opentelemetry.sdk.util.instrumentation import InstrumentationScope

    resource = getattr(trace.get_tracer_provider(), "resource", None)
    scope = InstrumentationScope(SCOPE)
    return lambda row: readable_from_row(row, resource, scope)


class RunTrace:
    """The spans of one run (one traced segment of it): counted, held, then written."""

    def __init__(self, tracing: Tracing, run_id: str) -> None:
        self.tracing = tracing
        self.run_id = run_id
        self.started = 0
        self.ended = 0
        self.stored = 0
        self.otlp_exported = 0
        self.otlp_failed = 0
        self.pending: list[Any] = []  # ended SDK spans, or rows already (tuples in SPAN_COLUMNS order; see _ended)
        self.trace_ids: list[int] = []
        self.closed = False
        self._staged = 0
        self._lock = threading.Lock()
        self.in_store = 0  # rows of this run the store holds, counted at the last flush
        self.carriers: dict[int, tuple[str, int]] = {}  # live span id -> (agent, round) its children inherit
        # With a store and no OTLP, a span becomes its row as it ends: the span object is freed at
        # once and the held row (strings and numbers only) costs the garbage collector nothing.
        self._early = tracing.store is not None and tracing.otlp is None
        if tracing.store is not None:
            # A resumed run (paused, or killed and resumed) counts on from the spans its earlier
            # segments stored; spans a killed segment never ended are beyond anyone's count.
            self.started = self.ended = self.stored = self.in_store = stored_count(tracing.store, run_id)
            prev = counts_row(tracing.store, run_id)
            if prev is not None:
                self.otlp_exported, self.otlp_failed = prev.otlp_exported, prev.otlp_failed
        self._otlp_before = (self.otlp_exported, self.otlp_failed)  # this segment reports only its own
        self._otlp_written = (-1, -1)  # the OTLP figures of the last counts row written

    # --- called by the router (any thread) ---------------------------------------
    def _started(self) -> None:
        with self._lock:
            self.started += 1

    def _ended(self, span: ReadableSpan) -> None:
        item: Any = span
        sink = self.tracing.otlp
        # while the collector is known to be down, the span is not kept for it: dropped and counted now
        skip_otlp = sink is not None and not sink.accepting()
        if self._early or (skip_otlp and self.tracing.store is not None):
            try:
                item = as_tuple(span_row(span, self.run_id, self.tracing.capture_content))
                if skip_otlp:
                    item = _Unsent(item)
            except Exception:  # noqa: BLE001  (never raise into span.end(); converted again at write time)
                item = span
        with self._lock:
            self.ended += 1
            if skip_otlp:
                self.otlp_failed += 1
                if self.tracing.store is None:
                    return
            self.pending.append(item)

    def add(self, row: dict[str, Any] | tuple[Any, ...]) -> None:
        """A span made as its row (``traces.spans.row_tuple``, or by name): counted as started and ended, and held."""
        self.add_rows([as_tuple(row)])

    def add_rows(self, rows: list[tuple[Any, ...]]) -> None:
        """Spans made as their rows (tuples in ``SPAN_COLUMNS`` order): each counted as started and ended, and held."""
        if not rows:
            return
        sink = self.tracing.otlp
        skip_otlp = sink is not None and not sink.accepting()
        n = len(rows)
        with self._lock:
            self.started += n
            self.ended += n
            if skip_otlp:
                self.otlp_failed += n
                if self.tracing.store is None:
                    return
                rows = [_Unsent(r) for r in rows]
            self.pending.extend(rows)

    # --- written in the run's flow --------------------------------------------------
    def counts(self) -> SpanCounts:
        """The run's counts now."""
        return SpanCounts(
            self.started, self.ended, self.stored, len(self.pending), self.otlp_exported, self.otlp_failed
        )

    def stage(self, batch: RoundBatch) -> int:
        """Put the ended spans into a round's batch, to commit with the round; returns how many."""
        if self.tracing.store is None:
            self._hand_over(self._take(len(self.pending)))
            return 0
        spans = self.pending[:]
        self._staged = len(spans)
        if spans:
            batch.extend_tuples("spans", SPAN_COLUMNS, self._rows(spans))
        return len(spans)

    def confirm(self) -> None:
        """The round's batch is committed: the staged spans are stored."""
        n, self._staged = self._staged, 0
        if n:
            done = self._take(n)
            self.stored += n
            self._hand_over(done)

    def flush(self) -> None:
        """Write every held span now, in one transaction; on failure keep them and raise."""
        store = self.tracing.store
        if store is None:
            self._hand_over(self._take(len(self.pending)))
            return
        spans = self.pending[:]
        rows = self._rows(spans)
        try:
            in_store = write_spans(store, self.run_id, rows, self._count_row(self.stored + len(spans)))
        except (SQLAlchemyError, StoreError) as err:
            reason = getattr(err, "orig", None) or err
            raise TraceStoreError(
                f"run {self.run_id}: {len(spans)} spans could not be written to {store.url} ({reason}); "
                "they are kept in memory: fix the store, then call retry() on the session's tracer"
            ) from err
        self._take(len(spans))
        self._staged = 0
        self.stored += len(spans)
        self._hand_over(spans)
        self.in_store = in_store

    def close(self) -> SpanCounts:
        """Flush, stop routing this run's traces, and check that nothing was lost.

        Raises ``TraceStoreError`` if the spans cannot be written (they stay held, and
        ``close`` may be called again) and ``TraceLossError`` if the counts disagree.
        """
        self.tracing.router.unregister(self)
        self.closed = True
        self.flush()
        sink = self.tracing.otlp
        if sink is not None:
            sink.flush()
            if self.tracing.store is not None and (self.otlp_exported, self.otlp_failed) != self._otlp_written:
                # record what the collector took, now that it is known (a dead one: known already)
                write_spans(self.tracing.store, self.run_id, [], self._count_row(self.stored))
            sent, failed = self.otlp_exported - self._otlp_before[0], self.otlp_failed - self._otlp_before[1]
            if failed:  # said once per run, not once per request
                log.warning(
                    "run %s: %d of %d spans did not reach the OTLP collector at %s (%s)%s",
                    self.run_id,
                    failed,
                    sent + failed,
                    sink.endpoint,
                    sink.reason or "not delivered",
                    "; the store has them all" if self.tracing.store is not None else "",
                )
        c = self.counts()
        if c.started != c.ended:
            raise TraceLossError(
                f"run {self.run_id}: {c.started} spans were started but {c.ended} ended; "
                "some code left spans open (end every span, e.g. with `with tracer.start_as_current_span(...)`)"
            )
        if self.tracing.store is not None and (c.stored != c.ended or self.in_store != c.stored):
            raise TraceLossError(
                f"run {self.run_id}: {c.ended} spans ended, {c.stored} were written and the store holds "
                f"{self.in_store}; spans were lost on the way to {self.tracing.store.url}"
            )
        return c

    # --- internals ------------------------------------------------------------------
    def _rows(self, items: list[Any]) -> list[tuple[Any, ...]]:
        capture = self.tracing.capture_content
        return [i if isinstance(i, tuple) else as_tuple(span_row(i, self.run_id, capture)) for i in items]

    def _take(self, n: int) -> list[ReadableSpan]:
        with self._lock:
            done = self.pending[:n]
            del self.pending[:n]
        return done

    def _hand_over(self, items: list[Any]) -> None:
        sink = self.tracing.otlp
        if sink is None or not items:
            return
        # held items are spans, rows of spans made without the SDK (rebuilt as spans for the collector), or
        # rows of spans made while the collector was down (``_Unsent``: already counted as not delivered)
        rebuilt = _rebuild()
        spans = [rebuilt(s) if isinstance(s, tuple) else s for s in items if not isinstance(s, _Unsent)]
        if spans and not self.tracing.capture_content:
            spans = [without_content(s) for s in spans]
        sink.submit(spans, self._otlp_done)

    def _otlp_done(self, exported: int, failed: int) -> None:
        with self._lock:
            self.otlp_exported += exported
            self.otlp_failed += failed

    def _count_row(self, stored: int) -> dict[str, Any]:
        with self._lock:  # the OTLP worker updates these two
            exported, failed = self._otlp_written = (self.otlp_exported, self.otlp_failed)
        return {
            "started": self.started,
            "ended": self.ended,
            "stored": stored,
            "otlp_exported": exported,
            "otlp_failed": failed,
            "ok": self.started == self.ended == stored,
        }
