"""Real OTLP receivers on loopback for the tests: OTLP/HTTP (http.server) and OTLP/gRPC (grpcio).

Both decode every ExportTraceServiceRequest with opentelemetry-proto and keep the spans, the
request headers (HTTP headers or gRPC metadata) and how many requests came.
"""

from __future__ import annotations

import gzip
import threading
from concurrent import futures
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)


def decode(req: ExportTraceServiceRequest) -> list[dict[str, Any]]:
    """The spans of one request as plain dicts (ids in hex, attributes as Python values)."""
    got = []
    for rs in req.resource_spans:
        resource = {kv.key: kv.value.string_value for kv in rs.resource.attributes}
        for ss in rs.scope_spans:
            for sp in ss.spans:
                got.append(
                    {
                        "span_id": sp.span_id.hex(),
                        "trace_id": sp.trace_id.hex(),
                        "parent_id": sp.parent_span_id.hex() or None,
                        "name": sp.name,
                        "kind": sp.kind,
                        "attrs": {kv.key: _value(kv.value) for kv in sp.attributes},
                        "links": [(lk.trace_id.hex(), lk.span_id.hex()) for lk in sp.links],
                        "resource": resource,
                    }
                )
    return got


def _value(v: Any) -> Any:
    kind = v.WhichOneof("value")
    if kind == "array_value":
        return [_value(x) for x in v.array_value.values]
    return getattr(v, kind) if kind else None


class _Collected:
    def __init__(self) -> None:
        self.spans: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.requests = 0
        self.lock = threading.Lock()
        self.arrived = threading.Event()  # set when a request comes in, before it is answered
        self.gate: threading.Event | None = None  # when set to an Event, requests wait for it (a hung collector)

    def _take(self, req: ExportTraceServiceRequest, headers: dict[str, str]) -> None:
        got = decode(req)
        with self.lock:
            self.spans.extend(got)
            self.headers.append(headers)
            self.requests += 1


class HttpReceiver(ThreadingHTTPServer, _Collected):
    """A minimal OTLP/HTTP traces receiver (protobuf bodies, gzip or not)."""

    def __init__(self) -> None:
        ThreadingHTTPServer.__init__(self, ("127.0.0.1", 0), _Handler)
        _Collected.__init__(self)
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def start(self) -> HttpReceiver:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802  (http.server's naming)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.arrived.set()  # type: ignore[attr-defined]
        gate = self.server.gate  # type: ignore[attr-defined]
        if gate is not None:
            gate.wait(30)  # bounded: the server stops by itself even if a test forgets to open the gate
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        ok = self.path == "/v1/traces" and self.headers.get("Content-Type") == "application/x-protobuf"
        if ok:
            req = ExportTraceServiceRequest()
            req.ParseFromString(body)
            self.server._take(req, {k.lower(): v for k, v in self.headers.items()})  # type: ignore[attr-defined]
        out = ExportTraceServiceResponse().SerializeToString()
        self.send_response(200 if ok else 404)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def log_message(self, *args: object) -> None:
        """Quiet."""


class GrpcReceiver(_Collected):
    """A minimal OTLP/gRPC traces receiver: opentelemetry-proto's TraceService on grpcio."""

    def __init__(self) -> None:
        import grpc
        from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc as svc

        super().__init__()
        outer = self

        class _Service(svc.TraceServiceServicer):
            def Export(self, request: Any, context: Any) -> ExportTraceServiceResponse:  # noqa: N802  (gRPC's naming)
                outer._take(request, {k: v for k, v in context.invocation_metadata()})
                return ExportTraceServiceResponse()

        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
        svc.add_TraceServiceServicer_to_server(_Service(), self.server)
        self.port = self.server.add_insecure_port("127.0.0.1:0")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> GrpcReceiver:
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop(grace=None)
