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

import os
import threading
from dataclasses import dataclass
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.sampling import ALWAYS_ON

from protocols import semconv as sc
from traces.otlp import OtlpSink, otlp_endpoint_from_env, sink_for
from traces.run_trace import RunTrace, SpanCounts, TraceError, TraceLossError, TraceStoreError
from traces.store import Store

__all__ = [
    "RunRouter",
    "RunTrace",
    "SpanCounts",
    "TraceError",
    "TraceLossError",
    "TraceStoreError",
    "Tracing",
    "add_span_processor",
    "install",
    "setup_tracing",
]


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
                raise TraceError(
                    f"run {run.run_id} is already being traced in this process; give each session its own run id"
                )
            self._runs[run.run_id] = run

    def unregister(self, run: RunTrace) -> None:
        """Stop routing ``run``'s traces."""
        with self._lock:
            if self._runs.get(run.run_id) is run:
                del self._runs[run.run_id]
            for tid in run.trace_ids:
                self._traces.pop(tid, None)

    def run_of(self, trace_id: int) -> RunTrace | None:
        """The run a trace is bound to, if any."""
        return self._traces.get(trace_id)

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


CAPTURE_ENV = sc.CAPTURE_CONTENT_ENV
"""The GenAI instrumentations' standard switch for prompt and completion text."""

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
            # Phoenix files spans by openinference.project.name, not service.name: the same name for both
            resource = Resource.create({SERVICE_NAME: service_name, sc.PROJECT_NAME: service_name})
            provider = TracerProvider(resource=resource, sampler=ALWAYS_ON)
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
    capture_content: bool | None = None,
    otlp_timeout: float | None = None,
    otlp_protocol: str | None = None,
) -> Tracing:
    """Configure tracing for runs: the store, an optional OTLP endpoint, the service name, content capture.

    ``otlp_endpoint`` is a collector base URL (``http://127.0.0.1:4318``) or a full traces URL;
    when None, ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` / ``OTEL_EXPORTER_OTLP_ENDPOINT`` are used
    if set. ``otlp_protocol`` is ``http/protobuf`` or ``grpc`` (default: ``OTEL_EXPORTER_OTLP_PROTOCOL``,
    else HTTP); headers come from ``OTEL_EXPORTER_OTLP_(TRACES_)HEADERS``. ``service_name`` applies when Agora creates the process's provider (the first call).
    With ``capture_content=False`` prompt and completion text never reaches the store or OTLP;
    when None, ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=false`` turns it off (the
    switch for the command line), and it is on otherwise.
    ``otlp_timeout`` (seconds per request, retries included; also the end-of-run flush's bound)
    defaults to ``OTEL_EXPORTER_OTLP_(TRACES_)TIMEOUT`` or 2. Export never slows a run: what cannot
    be sent is dropped and counted (see ``traces.otlp``).
    """
    router = install(service_name)
    st = Store(store) if isinstance(store, str) else store
    otlp = None
    if otlp_endpoint or otlp_endpoint_from_env():
        otlp = sink_for(otlp_endpoint, protocol=otlp_protocol, timeout=otlp_timeout)
    if capture_content is None:
        capture_content = sc.content_capture(os.environ.get(CAPTURE_ENV))
    return Tracing(st, router, otlp, capture_content)
