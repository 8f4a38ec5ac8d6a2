"""OTLP export beside the store, so the same spans reach Phoenix, Langfuse or Jaeger.

The store keeps every span; the collector gets them on a best-effort basis, as the
OpenTelemetry SDK promises: a collector that is down, slow or refusing never slows a run.
Spans are handed over in the run's own flow (after each round's commit and at the end) to
a worker thread behind a bounded queue. What cannot be sent is dropped and counted: a full
queue, a failed request, batches that arrive while the collector is known to be down (a
plain TCP connect to it is refused or times out), and whatever is still queued when the
end-of-run flush deadline passes. The run reports the count once, when it ends, and
``agora traces`` shows it. The exporter's own retry warnings are kept out of the output.
"""

from __future__ import annotations

import importlib.util
import logging
import queue
import socket
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExportResult

from protocols import semconv as sc
from traces.otlp_config import OtlpConfig, OtlpConfigError, otlp_endpoint_from_env, resolve, traces_url

__all__ = ["OtlpConfigError", "OtlpSink", "otlp_endpoint_from_env", "sink_for", "traces_url", "without_content"]
from traces.redact import redact_spans

log = logging.getLogger(__name__)

REQUEST_SPANS = 512  # spans per OTLP request; the exporter refuses (drops) oversized requests
MAX_QUEUED_SPANS = 32_768  # beyond this the newest batches are dropped rather than held
DOWN_FOR = (1.0, 30.0)  # after a failure, skip the collector for 1 s, doubling up to 30 s
_THREAD = "agora-otlp"


class _OurWorkerOnly(logging.Filter):
    """Silences the SDK exporters' per-request warnings, for Agora's worker thread only: it reports once."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.threadName != _THREAD


for _name in (  # the loggers the HTTP and gRPC exporters write their retry warnings to
    "opentelemetry.exporter.otlp.proto.http.trace_exporter",
    "opentelemetry.exporter.otlp.proto.grpc.exporter",
    "opentelemetry.exporter.otlp.common.http",
):
    logging.getLogger(_name).addFilter(_OurWorkerOnly())


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


def check_exporter(cfg: OtlpConfig) -> None:
    """Raise ``OtlpConfigError`` now if the protocol's exporter is not installed (without importing it)."""
    if cfg.protocol == "grpc" and importlib.util.find_spec("opentelemetry.exporter.otlp.proto.grpc") is None:
        raise OtlpConfigError(
            "OTEL_EXPORTER_OTLP_PROTOCOL=grpc needs the gRPC exporter: pip install opentelemetry-exporter-otlp-proto-grpc"
        )


def make_exporter(cfg: OtlpConfig) -> Any:
    """The SDK's OTLP span exporter for the protocol (gRPC needs opentelemetry-exporter-otlp-proto-grpc)."""
    if cfg.protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcExporter

        return GrpcExporter(
            endpoint=cfg.endpoint,
            insecure=cfg.endpoint.startswith("http://"),
            headers=cfg.headers or None,
            timeout=cfg.timeout,
        )
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpExporter

    return HttpExporter(endpoint=cfg.endpoint, headers=cfg.headers or None, timeout=cfg.timeout)


Done = Callable[[int, int], None]
"""Called with (spans exported, spans not delivered) for one hand-over, exactly once per batch."""


class _Batch:
    __slots__ = ("done", "settled", "spans")

    def __init__(self, spans: list[ReadableSpan], done: Done | None) -> None:
        self.spans, self.done, self.settled = spans, done, False


class OtlpSink:
    """One OTLP exporter fed by a worker thread; ``submit`` never waits, ``flush`` waits a bounded time."""

    def __init__(self, cfg: OtlpConfig | None = None, *, max_spans: int = MAX_QUEUED_SPANS) -> None:
        self.cfg = cfg or resolve()
        check_exporter(self.cfg)
        self.exporter: Any = None  # made by the worker when first needed: importing it costs ~0.1 s
        self.endpoint = self.cfg.endpoint
        self._queue: queue.Queue[_Batch] = queue.Queue(maxsize=max(1, max_spans // REQUEST_SPANS))
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._inflight: _Batch | None = None
        self._down_until = 0.0  # monotonic time before which the collector is not tried
        self._down_for = DOWN_FOR[0]
        self.reason = ""  # why the last batch was not delivered
        self.exported = 0
        self.failed = 0
        self._start()  # the worker probes the collector at once, so a dead one costs the run nothing

    def accepting(self) -> bool:
        """False while the collector is known to be down: spans made now are dropped (and counted) at once."""
        return time.monotonic() >= self._down_until

    def submit(self, spans: Sequence[ReadableSpan], done: Done | None = None) -> None:
        """Queue spans for export; when the queue is full they are dropped and counted, never waited for."""
        if not spans:
            return
        spans = redact_spans(spans)  # keys and tokens the run was given never leave (traces.redact)
        self._start()
        for i in range(0, len(spans), REQUEST_SPANS):
            batch = _Batch(list(spans[i : i + REQUEST_SPANS]), done)
            try:
                self._queue.put_nowait(batch)
            except queue.Full:
                self._settle(batch, False, f"the export queue was full ({self._queue.maxsize} batches)")

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every queued span is sent or given up, for at most ``timeout`` (default: the export timeout).

        At the deadline, queued batches and the one in flight are counted as not delivered
        (a late answer for the one in flight is ignored). Returns True if nothing was given up.
        """
        if self._thread is None:
            return True
        wait = self.cfg.timeout if timeout is None else timeout
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if self._queue.unfinished_tasks == 0:
                return True
            time.sleep(0.002)
        reason = f"still queued when the end-of-run flush gave up after {wait:g} s"
        while True:
            try:
                batch = self._queue.get_nowait()
            except queue.Empty:
                break
            self._settle(batch, False, reason)
            self._queue.task_done()
        with self._lock:
            inflight = self._inflight
        if inflight is not None:
            self._settle(inflight, False, reason)
        return False

    def _start(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._work, name=_THREAD, daemon=True)
                self._thread.start()

    def _settle(self, batch: _Batch, ok: bool, reason: str = "") -> None:
        """Count a batch once, whichever of the worker and the flush deadline gets there first."""
        with self._lock:
            if batch.settled:
                return
            batch.settled = True
            n = len(batch.spans)
            if ok:
                self.exported += n
            else:
                self.failed += n
                self.reason = reason or self.reason
        if batch.done is not None:
            batch.done(n if ok else 0, 0 if ok else n)

    def _reachable(self) -> str:
        """'' when a TCP connection to the collector opens (a refused or hanging one costs little here)."""
        try:
            with socket.create_connection(self.cfg.address, timeout=min(self.cfg.timeout, 0.5)):
                return ""
        except OSError as err:
            return f"{self.endpoint} is unreachable ({err.strerror or err})"

    def _work(self) -> None:
        reason = self._reachable()
        if reason:
            self._down(reason)
        while True:
            batch = self._queue.get()
            with self._lock:
                self._inflight = batch
            try:
                self._send(batch)
            finally:
                with self._lock:
                    self._inflight = None
                self._queue.task_done()

    def _send(self, batch: _Batch) -> None:
        now = time.monotonic()
        if now < self._down_until:
            self._settle(batch, False)  # the collector failed a moment ago: do not try it again yet
            return
        reason = self._reachable()
        ok = False
        if not reason:
            try:
                if self.exporter is None:
                    self.exporter = make_exporter(self.cfg)
                ok = self.exporter.export(batch.spans) is SpanExportResult.SUCCESS
                reason = "" if ok else f"{self.endpoint} did not accept the spans"
            except Exception as err:  # noqa: BLE001  (an exporter must never take the run down)
                reason = f"export to {self.endpoint} failed: {err}"
        if ok:
            self._down_for = DOWN_FOR[0]
        else:
            self._down(reason)
        self._settle(batch, ok, reason)

    def _down(self, reason: str) -> None:
        """Do not try the collector again for a while (1 s, doubling up to 30 s while it stays down)."""
        self.reason = reason
        self._down_until = time.monotonic() + self._down_for
        self._down_for = min(self._down_for * 2, DOWN_FOR[1])


_sinks: dict[str, OtlpSink] = {}
_sinks_lock = threading.Lock()


def sink_for(
    endpoint: str | None = None, *, protocol: str | None = None, timeout: float | None = None, **kwargs: Any
) -> OtlpSink:
    """The process's sink for a collector and its settings (one worker thread each)."""
    cfg = resolve(endpoint, protocol, timeout)
    with _sinks_lock:
        if cfg.key not in _sinks:
            _sinks[cfg.key] = OtlpSink(cfg, **kwargs)
        return _sinks[cfg.key]
