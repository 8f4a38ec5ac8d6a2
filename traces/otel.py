"""OpenTelemetry set-up for Agora: one SDK provider per process, every span routed to its run.

OpenTelemetry lets a process set its global ``TracerProvider`` once, and many sessions may
run in one process, so ``setup_tracing`` installs (once) an SDK provider with a
``RunRouter`` span processor, or adds the router to an SDK provider the user already set.
A session registers its run; the router binds each trace whose root span carries that
run's ``agora.run.id`` to the run, counts every span of it as it starts and ends, and holds
ended spans in the run's buffer. The run writes them in its own flow: staged into each
round's batch (one transaction with the round's records) and flushed at the end. Nothing
is written by a background thread and nothing is dropped: a failed write keeps the spans,
and ending a run checks that started == ended == stored.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.sampling import ALWAYS_ON
from sqlalchemy.exc import SQLAlchemyError

from protocols import semconv as sc
from traces.otlp import OtlpSink, otlp_endpoint_from_env, sink_for, without_content
from traces.spans import counts_row, span_row, write_spans
from traces.store import RoundBatch, Store, StoreError


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
        self.pending: list[Any] = []  # ended spans, or their rows already (see _ended)
        self.trace_ids: list[int] = []
        self.closed = False
        self._staged = 0
        self._lock = threading.Lock()
        self.in_store = 0  # rows of this run the store holds, counted at the last flush
        self.carriers: dict[int, tuple[str, int]] = {}  # live span id -> (agent, round) its children inherit
        # With a store and no OTLP, a span becomes its row as it ends: the span object is freed at
        # once and the held row (strings and numbers only) costs the garbage collector nothing.
        self._early = tracing.store is not None and tracing.otlp is None
        prev = counts_row(tracing.store, run_id) if tracing.store is not None else None
        if prev is not None:  # a resumed run: the counts go on from where its last segment ended
            self.started, self.ended, self.stored = prev.started, prev.ended, prev.stored
            self.otlp_exported, self.otlp_failed = prev.otlp_exported, prev.otlp_failed

    # --- called by the router (any thread) ---------------------------------------
    def _started(self) -> None:
        with self._lock:
            self.started += 1

    def _ended(self, span: ReadableSpan) -> None:
        item: Any = span
        if self._early:
            try:
                item = span_row(span, self.run_id, self.tracing.capture_content)
            except Exception:  # noqa: BLE001  (never raise into span.end(); converted again at write time)
                item = span
        with self._lock:
            self.ended += 1
            self.pending.append(item)

    # --- written in the run's flow --------------------------------------------------
    def counts(self) -> SpanCounts:
        """The run's counts now."""
        return SpanCounts(self.started, self.ended, self.stored, len(self.pending), self.otlp_exported, self.otlp_failed)

    def stage(self, batch: RoundBatch) -> int:
        """Put the ended spans into a round's batch, to commit with the round; returns how many."""
        if self.tracing.store is None:
            self._hand_over(self._take(len(self.pending)))
            return 0
        spans = self.pending[:]
        self._staged = len(spans)
        if spans:
            batch.rows.setdefault("spans", []).extend(self._rows(spans))
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
        if self.tracing.otlp is not None:
            self.tracing.otlp.flush()
            if self.tracing.store is not None:  # record what the collector took, now that it is known
                write_spans(self.tracing.store, self.run_id, [], self._count_row(self.stored))
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
    def _rows(self, items: list[Any]) -> list[dict[str, Any]]:
        capture = self.tracing.capture_content
        return [i if isinstance(i, dict) else span_row(i, self.run_id, capture) for i in items]

    def _take(self, n: int) -> list[ReadableSpan]:
        with self._lock:
            done = self.pending[:n]
            del self.pending[:n]
        return done

    def _hand_over(self, spans: list[Any]) -> None:
        sink = self.tracing.otlp
        if sink is not None and spans:  # with OTLP on, the held items are the spans themselves
            if not self.tracing.capture_content:
                spans = [without_content(s) for s in spans]
            sink.submit(spans, self._otlp_done)

    def _otlp_done(self, exported: int, failed: int) -> None:
        with self._lock:
            self.otlp_exported += exported
            self.otlp_failed += failed

    def _count_row(self, stored: int) -> dict[str, Any]:
        return {
            "started": self.started,
            "ended": self.ended,
            "stored": stored,
            "otlp_exported": self.otlp_exported,
            "otlp_failed": self.otlp_failed,
            "ok": self.started == self.ended == stored,
        }


class RunRouter(SpanProcessor):
    """Routes each span to the run its trace belongs to; spans of other traces pass by."""

    def __init__(self) -> None:
        self._runs: dict[str, RunTrace] = {}
        self._traces: dict[int, RunTrace] = {}
        self._lock = threading.Lock()

    def register(self, run: RunTrace) -> None:
        """Start routing the traces of ``run`` (bound when their root span starts)."""
        with self._lock:
            if run.run_id in self._runs:
                raise TraceError(f"run {run.run_id} is already being traced in this process; give each session its own run id")
            self._runs[run.run_id] = run

    def unregister(self, run: RunTrace) -> None:
        """Stop routing ``run``'s traces."""
        with self._lock:
            if self._runs.get(run.run_id) is run:
                del self._runs[run.run_id]
            for tid in run.trace_ids:
                self._traces.pop(tid, None)

    def on_start(self, span: Any, parent_context: Any = None) -> None:
        """Count the span for its run; root spans carrying a registered run id bind their trace."""
        trace_id = span.context.trace_id
        run = self._traces.get(trace_id)
        parent = span.parent
        if run is None:
            if parent is not None:
                return
            run = self._runs.get((span.attributes or {}).get(sc.RUN_ID, ""))
            if run is None:
                return
            with self._lock:
                self._traces[trace_id] = run
                run.trace_ids.append(trace_id)
        run._started()
        carriers = run.carriers
        if parent is not None and carriers:
            # a span under an agent's turn (an LLM call, a tool) gets the turn's agent and round
            info = carriers.get(parent.span_id)
            if info is not None:
                span.set_attributes({sc.AGENT_ID: info[0], sc.ROUND: info[1]})
                carriers[span.context.span_id] = info

    def on_end(self, span: ReadableSpan) -> None:
        """Hold the ended span in its run's buffer."""
        run = self._traces.get(span.context.trace_id)
        if run is not None:
            run._ended(span)
            if run.carriers:
                run.carriers.pop(span.context.span_id, None)

    def shutdown(self) -> None:
        """Nothing to release: runs flush their own spans."""

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Runs write in their own flow; there is nothing queued here."""
        return True


_install_lock = threading.Lock()
_router: RunRouter | None = None


def install(service_name: str = "agora") -> RunRouter:
    """Install the router into the global SDK provider (creating that provider if none is set)."""
    global _router
    with _install_lock:
        if _router is not None:
            return _router
        current = trace.get_tracer_provider()
        router = RunRouter()
        if isinstance(current, TracerProvider):
            current.add_span_processor(router)
        elif isinstance(current, trace.ProxyTracerProvider):
            provider = TracerProvider(resource=Resource.create({SERVICE_NAME: service_name}), sampler=ALWAYS_ON)
            provider.add_span_processor(router)
            trace.set_tracer_provider(provider)
        else:
            raise TraceError(
                f"this process already uses a {type(current).__name__} as its tracer provider; Agora needs the "
                "OpenTelemetry SDK's TracerProvider: set that one (or none) before tracing a run"
            )
        _router = router
        return router


def add_span_processor(processor: SpanProcessor) -> None:
    """Add a processor (say a test's in-memory exporter) to the global SDK provider Agora uses."""
    install()
    provider = trace.get_tracer_provider()
    assert isinstance(provider, TracerProvider)
    provider.add_span_processor(processor)


@dataclass
class Tracing:
    """Where the spans of runs go: the store (may be None), OTLP (may be None), content or not."""

    store: Store | None
    router: RunRouter
    otlp: OtlpSink | None = None
    capture_content: bool = True

    def open_run(self, run_id: str) -> RunTrace:
        """Start collecting the spans of ``run_id``; end with ``RunTrace.close()``."""
        run = RunTrace(self, run_id)
        self.router.register(run)
        return run


def setup_tracing(
    store: Store | str | None = None,
    otlp_endpoint: str | None = None,
    service_name: str = "agora",
    capture_content: bool = True,
    otlp_timeout: float | None = None,
) -> Tracing:
    """Configure tracing for runs: the store, an optional OTLP endpoint, the service name, content capture.

    ``otlp_endpoint`` is a collector base URL (``http://127.0.0.1:4318``) or a full traces URL;
    when None, ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` / ``OTEL_EXPORTER_OTLP_ENDPOINT`` are used
    if set. ``service_name`` applies when Agora creates the process's provider (the first call).
    With ``capture_content=False`` prompt and completion text never reaches the store or OTLP.
    ``otlp_timeout`` (seconds per request, retries included) defaults to ``OTEL_EXPORTER_OTLP_TIMEOUT`` or 10.
    """
    router = install(service_name)
    st = Store(store) if isinstance(store, str) else store
    otlp = None
    if otlp_endpoint or otlp_endpoint_from_env():
        otlp = sink_for(otlp_endpoint, timeout=otlp_timeout)
    return Tracing(st, router, otlp, capture_content)
