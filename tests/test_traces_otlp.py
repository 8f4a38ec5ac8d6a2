"""OTLP export over HTTP and gRPC, received by real receivers on loopback that decode the protobuf."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator

import pytest
from otlp_receivers import GrpcReceiver, HttpReceiver
from traces_helpers import FakeChattingAgent, tiny

from protocols import semconv as sc
from sandbox import Session
from traces import Store, trace_read
from traces.otel import setup_tracing


@pytest.fixture()
def receiver() -> Iterator[HttpReceiver]:
    server = HttpReceiver().start()
    yield server
    server.stop()


@pytest.fixture()
def grpc_receiver() -> Iterator[GrpcReceiver]:
    server = GrpcReceiver().start()
    yield server
    server.stop()


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
    assert (
        root["attrs"][sc.RUN_ID] == s.run_id and root["resource"]["service.name"] == root["resource"][sc.PROJECT_NAME]
    )  # Phoenix files by project
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
    dead = HttpReceiver()
    url = dead.url
    dead.server_close()  # nothing listens there now
    store = Store(str(tmp_path / "d.db"))
    s = Session(tiny(rounds=1), store=store, tracing=setup_tracing(store, otlp_endpoint=url, otlp_timeout=0.5))
    s.run()
    counts = trace_read.span_counts(store, s.run_id)
    assert counts.ok and counts.otlp_exported == 0 and counts.otlp_failed == counts.stored


def test_grpc_protocol_endpoint_and_headers_from_the_standard_variables(tmp_path, grpc_receiver, monkeypatch) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", grpc_receiver.url)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", "x-agora-team=market%20lab,authorization=Bearer t0k")
    store = Store(str(tmp_path / "g.db"))
    s = Session(tiny(rounds=2), store=store)
    s.run()
    stored = {r.span_id: r for r in trace_read.spans(store, s.run_id, limit=None)}
    assert {sp["span_id"] for sp in grpc_receiver.spans} == set(stored) and len(grpc_receiver.spans) == len(stored)
    assert all(
        h.get("x-agora-team") == "market lab" and h.get("authorization") == "Bearer t0k" for h in grpc_receiver.headers
    )
    counts = trace_read.span_counts(store, s.run_id)
    assert counts.otlp_exported == len(stored) and counts.otlp_failed == 0


def test_traces_endpoint_variable_is_used_as_given_and_headers_reach_http(tmp_path, receiver, monkeypatch) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")  # the traces-specific variable wins
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/protobuf")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9")  # overridden by the traces endpoint
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", receiver.url + "/v1/traces")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "x-tenant=agora")
    store = Store(str(tmp_path / "h.db"))
    s = Session(tiny(rounds=1), store=store)
    s.run()
    assert receiver.requests >= 1 and all(h.get("x-tenant") == "agora" for h in receiver.headers)
    assert {sp["span_id"] for sp in receiver.spans} == {
        r.span_id for r in trace_read.spans(store, s.run_id, limit=None)
    }


def test_config_resolution() -> None:
    from traces.otlp_config import parse_timeout, resolve

    assert resolve("http://c:4318").endpoint == "http://c:4318/v1/traces"
    assert resolve("http://c:4318/v1/traces").endpoint == "http://c:4318/v1/traces"
    g = resolve("c:4317", protocol="grpc")
    assert (g.endpoint, g.address) == ("http://c:4317", ("c", 4317))
    assert parse_timeout("3") == 3.0 and parse_timeout("2500") == 2.5  # seconds (Python SDK) or ms (the spec)
    assert resolve("http://c:4318").timeout == 2.0


def test_an_unsupported_protocol_is_refused_with_a_sentence(monkeypatch) -> None:
    from traces.otlp import OtlpConfigError

    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json")
    with pytest.raises(OtlpConfigError, match="OTEL_EXPORTER_OTLP_PROTOCOL to one of http/protobuf, grpc"):
        setup_tracing(None, otlp_endpoint="http://127.0.0.1:4318")


def _spans(n: int) -> list:
    from opentelemetry.sdk.trace import TracerProvider

    tracer = TracerProvider().get_tracer("t")
    out = []
    for i in range(n):
        sp = tracer.start_span(f"s{i}")
        sp.end()
        out.append(sp)
    return out


def test_a_full_queue_drops_and_counts_instead_of_waiting(receiver) -> None:
    from traces.otlp import REQUEST_SPANS, OtlpSink
    from traces.otlp_config import resolve

    receiver.gate = threading.Event()
    sink = OtlpSink(resolve(receiver.url, timeout=5), max_spans=REQUEST_SPANS)  # room for one queued batch
    seen: list[tuple[int, int]] = []
    sink.submit(_spans(3), lambda ok, bad: seen.append((ok, bad)))
    assert receiver.arrived.wait(10)  # the worker holds batch 1 in flight: the queue is empty again
    sink.submit(_spans(4), lambda ok, bad: seen.append((ok, bad)))  # queued
    sink.submit(_spans(5), lambda ok, bad: seen.append((ok, bad)))  # no room: dropped at once, not waited for
    assert seen == [(0, 5)] and sink.failed == 5
    receiver.gate.set()
    assert sink.flush(timeout=30)
    assert sorted(seen) == [(0, 5), (3, 0), (4, 0)] and (sink.exported, sink.failed) == (7, 5)
    assert "queue was full" in sink.reason


def test_a_hung_collector_is_given_up_at_the_flush_deadline_and_counted_once(receiver) -> None:
    from traces.otlp import OtlpSink
    from traces.otlp_config import resolve

    receiver.gate = threading.Event()
    sink = OtlpSink(resolve(receiver.url, timeout=30))
    seen: list[tuple[int, int]] = []
    sink.submit(_spans(2), lambda ok, bad: seen.append((ok, bad)))
    assert receiver.arrived.wait(10)
    assert sink.flush(timeout=0.01) is False  # the request hangs until the gate opens: the flush gives up
    assert seen == [(0, 2)] and "flush gave up" in sink.reason
    receiver.gate.set()  # the late answer is not counted a second time
    assert sink.flush(timeout=30) and seen == [(0, 2)] and (sink.exported, sink.failed) == (0, 2)


def test_a_dead_collector_is_reported_once_and_the_exporter_stays_quiet(tmp_path, caplog) -> None:
    dead = HttpReceiver()
    url = dead.url
    dead.server_close()
    store = Store(str(tmp_path / "q.db"))
    with caplog.at_level(logging.DEBUG):
        s = Session(tiny(rounds=3), store=store, tracing=setup_tracing(store, otlp_endpoint=url))
        s.run()
    counts = trace_read.span_counts(store, s.run_id)
    assert counts.ok and counts.otlp_exported == 0 and counts.otlp_failed == counts.stored > 0
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and warnings[0].name == "traces.run_trace"
    assert f"{counts.stored} of {counts.stored} spans did not reach the OTLP collector" in warnings[0].getMessage()
