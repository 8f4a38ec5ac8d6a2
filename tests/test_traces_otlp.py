"""OTLP/HTTP export, received by a real collector on loopback that decodes the protobuf."""

from __future__ import annotations

import gzip
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from traces_helpers import FakeChattingAgent, tiny

from protocols import semconv as sc
from sandbox import Session
from traces import Store, trace_read
from traces.otel import setup_tracing


class Receiver(ThreadingHTTPServer):
    """A minimal OTLP/HTTP traces receiver: decodes each request with opentelemetry-proto."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.spans: list[dict] = []
        self.requests = 0
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802  (http.server's naming)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        ok = self.path == "/v1/traces" and self.headers.get("Content-Type") == "application/x-protobuf"
        if ok:
            req = ExportTraceServiceRequest()
            req.ParseFromString(body)
            got = []
            for rs in req.resource_spans:
                resource = {kv.key: kv.value.string_value for kv in rs.resource.attributes}
                for ss in rs.scope_spans:
                    for sp in ss.spans:
                        attrs = {kv.key: _value(kv.value) for kv in sp.attributes}
                        got.append(
                            {
                                "span_id": sp.span_id.hex(),
                                "trace_id": sp.trace_id.hex(),
                                "parent_id": sp.parent_span_id.hex() or None,
                                "name": sp.name,
                                "attrs": attrs,
                                "resource": resource,
                            }
                        )
            with self.server.lock:  # type: ignore[attr-defined]
                self.server.spans.extend(got)  # type: ignore[attr-defined]
                self.server.requests += 1  # type: ignore[attr-defined]
        out = ExportTraceServiceResponse().SerializeToString()
        self.send_response(200 if ok else 404)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def log_message(self, *args: object) -> None:
        """Quiet."""


def _value(v: object) -> object:
    kind = v.WhichOneof("value")  # type: ignore[attr-defined]
    if kind == "array_value":
        return [_value(x) for x in v.array_value.values]  # type: ignore[attr-defined]
    return getattr(v, kind) if kind else None


@pytest.fixture()
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_the_same_spans_reach_the_store_and_the_collector(tmp_path, receiver) -> None:
    store = Store(str(tmp_path / "o.db"))
    s = Session(tiny(rounds=3), store=store, tracing=setup_tracing(store, otlp_endpoint=receiver.url))
    s.run()
    stored = {r.span_id: r for r in trace_read.spans(store, s.run_id, limit=None)}
    got = {sp["span_id"]: sp for sp in receiver.spans}
    assert set(got) == set(stored) and len(receiver.spans) == len(stored)  # every span once, no extras
    counts = trace_read.span_counts(store, s.run_id)
    assert counts.otlp_exported == len(stored) and counts.otlp_failed == 0
    for sid, row in stored.items():
        sp = got[sid]
        assert (sp["name"], sp["trace_id"], sp["parent_id"]) == (row.name, row.trace_id, row.parent_id)
    root = next(sp for sp in receiver.spans if sp["parent_id"] is None)
    assert root["attrs"][sc.RUN_ID] == s.run_id and root["resource"]["service.name"]
    submit = next(sp for sp in receiver.spans if sp["name"] == sc.SPAN_SUBMIT)
    assert submit["attrs"][sc.VERDICT] in ("accepted", "rejected") and isinstance(submit["attrs"][sc.ACTION_SEQ], int)


def test_standard_environment_variables_turn_otlp_on(tmp_path, receiver, monkeypatch) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.url)
    store = Store(str(tmp_path / "e.db"))
    s = Session(tiny(rounds=1), store=store)  # no tracing argument: the variable is enough
    s.run()
    assert {sp["span_id"] for sp in receiver.spans} == {
        r.span_id for r in trace_read.spans(store, s.run_id, limit=None)
    }


def test_content_capture_off_reaches_the_collector_too(tmp_path, receiver) -> None:
    store = Store(str(tmp_path / "c.db"))
    s = Session(
        tiny(rounds=1), store=store, tracing=setup_tracing(store, otlp_endpoint=receiver.url, capture_content=False)
    )
    s.spawn(FakeChattingAgent, n=1, role="buyer", budget=10, value=1, service="svc")
    s.run()
    (chat,) = [sp for sp in receiver.spans if sp["name"] == "chat fake-model"]
    assert sc.GEN_AI_INPUT_MESSAGES not in chat["attrs"] and sc.GEN_AI_OUTPUT_MESSAGES not in chat["attrs"]
    assert chat["attrs"][sc.GEN_AI_REQUEST_MODEL] == "fake-model" and chat["attrs"][sc.AGENT_ID] == "buyer-003"


def test_a_collector_that_is_down_is_counted_not_fatal(tmp_path) -> None:
    dead = Receiver()
    url = dead.url
    dead.server_close()  # nothing listens there now
    store = Store(str(tmp_path / "d.db"))
    s = Session(tiny(rounds=1), store=store, tracing=setup_tracing(store, otlp_endpoint=url, otlp_timeout=0.5))
    s.run()
    counts = trace_read.span_counts(store, s.run_id)
    assert counts.ok and counts.otlp_exported == 0 and counts.otlp_failed == counts.stored
