"""OTLP/HTTP export beside the store, so the same spans reach Phoenix, Langfuse or Jaeger.

Spans are handed over in the run's own flow (after each round's commit and at flush) to a
worker thread behind a bounded queue. A full queue blocks the run instead of dropping
spans; a failed request is counted per run and reported in the run's span counts.
The standard ``OTEL_EXPORTER_OTLP_*`` variables configure the exporter (endpoint,
headers, timeout, compression) unless an endpoint is given.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
from collections.abc import Callable, Sequence
from typing import Any

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExportResult

from protocols import semconv as sc
from traces.redact import redact_spans

log = logging.getLogger(__name__)

REQUEST_SPANS = 512  # spans per OTLP request; the exporter refuses (drops) oversized requests
TRACES_PATH = "/v1/traces"


def otlp_endpoint_from_env() -> str | None:
    """The traces endpoint the standard variables name, if any."""
    return os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or None


def traces_url(endpoint: str) -> str:
    """Turn a collector base URL (``http://host:4318``) into its traces URL; full URLs pass."""
    endpoint = endpoint.rstrip("/")
    return endpoint if endpoint.endswith(TRACES_PATH) else endpoint + TRACES_PATH


def without_content(span: ReadableSpan) -> ReadableSpan:
    """A copy of ``span`` without prompt and completion text (when capture is off)."""
    attrs = span.attributes or {}
    if not any(k in attrs for k in sc.GEN_AI_CONTENT):
        return span
    kept = {k: v for k, v in attrs.items() if k not in sc.GEN_AI_CONTENT}
    return ReadableSpan(
        name=span.name,
        context=span.context,
        parent=span.parent,
        resource=span.resource,
        attributes=kept,
        events=span.events,
        links=span.links,
        kind=span.kind,
        status=span.status,
        start_time=span.start_time,
        end_time=span.end_time,
        instrumentation_scope=span.instrumentation_scope,
    )


Done = Callable[[int, int], None]
"""Called by the worker with (spans exported, spans failed) for one hand-over."""


class OtlpSink:
    """One OTLP/HTTP exporter fed by a worker thread; ``submit`` blocks when the queue is full."""

    def __init__(self, endpoint: str | None = None, *, max_batches: int = 64, timeout: float | None = None) -> None:
        url = traces_url(endpoint) if endpoint else None
        self.exporter = OTLPSpanExporter(endpoint=url, timeout=timeout)
        self.endpoint = url or getattr(self.exporter, "_endpoint", "")
        self._queue: queue.Queue[tuple[list[ReadableSpan], Done | None]] = queue.Queue(maxsize=max_batches)
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.exported = 0
        self.failed = 0

    def submit(self, spans: Sequence[ReadableSpan], done: Done | None = None) -> None:
        """Queue spans for export; waits for room rather than dropping them."""
        if not spans:
            return
        spans = redact_spans(spans)  # keys and tokens the run was given never leave (traces.redact)
        self._start()
        for i in range(0, len(spans), REQUEST_SPANS):
            self._queue.put((list(spans[i : i + REQUEST_SPANS]), done))

    def flush(self) -> None:
        """Wait until every queued span has been sent (or has failed)."""
        if self._thread is not None:
            self._queue.join()

    def _start(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._work, name="agora-otlp", daemon=True)
                self._thread.start()

    def _work(self) -> None:
        while True:
            spans, done = self._queue.get()
            ok = False
            try:
                ok = self.exporter.export(spans) is SpanExportResult.SUCCESS
            except Exception as err:  # an exporter must never take the run down
                log.warning("OTLP export to %s failed: %s", self.endpoint, err)
            finally:
                if ok:
                    self.exported += len(spans)
                else:
                    self.failed += len(spans)
                if done is not None:
                    done(len(spans) if ok else 0, 0 if ok else len(spans))
                self._queue.task_done()


_sinks: dict[str, OtlpSink] = {}
_sinks_lock = threading.Lock()


def sink_for(endpoint: str | None, **kwargs: Any) -> OtlpSink:
    """The process's sink for an endpoint (one worker thread per collector)."""
    key = traces_url(endpoint) if endpoint else f"env:{otlp_endpoint_from_env()}"
    with _sinks_lock:
        if key not in _sinks:
            _sinks[key] = OtlpSink(endpoint, **kwargs)
        return _sinks[key]
