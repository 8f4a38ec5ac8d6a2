"""GenAI semantic conventions on model-call spans: CLIENT kind, messages, request parameters, error.type, cost.

Checked on spans an SDK in-memory exporter collects, and end to end: the real LLM agent on the
stand-in model, its spans in the store and at real OTLP receivers (HTTP and gRPC), content
capture on and off.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor
from opentelemetry.trace import SpanKind, StatusCode
from otlp_receivers import GrpcReceiver, HttpReceiver

from agents.llm import LLMAgent
from agents.llm.calls import CallRecord, emit_span
from agents.llm.scripted_model import ScriptedStandIn, register_stand_in
from protocols import semconv as sc
from sandbox import Session
from traces import Store, trace_read
from traces.otel import add_span_processor, setup_tracing


class Recorder(SpanProcessor):
    """Keeps ended spans while a test wants them (the global provider can only gain processors)."""

    def __init__(self) -> None:
        self.active = False
        self.spans: list[ReadableSpan] = []

    def on_end(self, span: ReadableSpan) -> None:
        if self.active:
            self.spans.append(span)

    def get_finished_spans(self) -> list[ReadableSpan]:
        return list(self.spans)


_recorder: Recorder | None = None


@pytest.fixture()
def memory() -> Iterator[Recorder]:
    global _recorder
    if _recorder is None:
        _recorder = Recorder()
        add_span_processor(_recorder)
    _recorder.spans.clear()
    _recorder.active = True
    yield _recorder
    _recorder.active = False
    _recorder.spans.clear()


MESSAGES = [
    {"role": "system", "content": "You trade."},
    {"role": "user", "content": "Round 2: quote 40?"},
    {
        "role": "assistant",
        "content": None,
        "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "quote", "arguments": '{"price": 41}'}}],
    },
    {"role": "tool", "tool_call_id": "c1", "content": "accepted"},
]
RESPONSE = {
    "id": "resp-1",
    "model": "stand-in-1",
    "choices": [
        {
            "finish_reason": "tool_calls",
            "message": {
                "role": "assistant",
                "content": "Offering 42.",
                "tool_calls": [{"id": "c2", "function": {"name": "make_offer", "arguments": '{"price": 42}'}}],
            },
        }
    ],
}


def _record(**kw: object) -> CallRecord:
    base = dict(
        agent_id="buyer-001",
        seq=3,
        turn_round=2,
        attempt=1,
        model="openai/gpt-4o-mini",
        request_hash="h" * 64,
        messages=MESSAGES,
        params={"temperature": 0.7, "max_tokens": 256, "seed": 11, "api_base": "http://127.0.0.1:8011/v1"},
        response=RESPONSE,
        prompt_tokens=120,
        completion_tokens=9,
        cost=0.00042,
    )
    base.update(kw)
    return CallRecord(**base)  # type: ignore[arg-type]


def test_a_model_call_span_follows_the_genai_conventions(memory, monkeypatch) -> None:
    monkeypatch.delenv(sc.CAPTURE_CONTENT_ENV, raising=False)
    emit_span(_record(), 1_000, 2_000, 2)
    (span,) = memory.get_finished_spans()
    a = span.attributes
    assert span.name == "chat openai/gpt-4o-mini" and span.kind is SpanKind.CLIENT
    assert a[sc.GEN_AI_OPERATION] == "chat" and a[sc.GEN_AI_PROVIDER] == "openai"
    assert a[sc.GEN_AI_REQUEST_TEMPERATURE] == 0.7 and a[sc.GEN_AI_REQUEST_MAX_TOKENS] == 256
    assert a[sc.GEN_AI_REQUEST_SEED] == 11 and (a[sc.SERVER_ADDRESS], a[sc.SERVER_PORT]) == ("127.0.0.1", 8011)
    assert a[sc.GEN_AI_RESPONSE_ID] == "resp-1" and a[sc.GEN_AI_RESPONSE_MODEL] == "stand-in-1"
    assert a[sc.GEN_AI_USAGE_COST] == a[sc.OI_COST_TOTAL] == a[sc.LLM_COST] == 0.00042
    assert sc.ERROR_TYPE not in a and span.status.status_code is StatusCode.UNSET
    inp = json.loads(a[sc.GEN_AI_INPUT_MESSAGES])
    assert [m["role"] for m in inp] == ["system", "user", "assistant", "tool"]
    assert inp[1]["parts"] == [{"type": "text", "content": "Round 2: quote 40?"}]
    assert inp[2]["parts"] == [{"type": "tool_call", "id": "c1", "name": "quote", "arguments": {"price": 41}}]
    assert inp[3]["parts"] == [{"type": "tool_call_response", "id": "c1", "response": "accepted"}]
    (out,) = json.loads(a[sc.GEN_AI_OUTPUT_MESSAGES])
    assert out["role"] == "assistant" and out["finish_reason"] == "tool_calls"
    assert out["parts"] == [
        {"type": "text", "content": "Offering 42."},
        {"type": "tool_call", "id": "c2", "name": "make_offer", "arguments": {"price": 42}},
    ]


def test_a_fault_sets_error_type_and_the_error_status(memory) -> None:
    emit_span(_record(response=None, fault="timeout", error="Timeout: no answer in 30 s", completion_tokens=0), 1, 2, 2)
    (span,) = memory.get_finished_spans()
    assert span.attributes[sc.ERROR_TYPE] == "timeout" and span.attributes[sc.LLM_FAULT] == "timeout"
    assert span.status.status_code is StatusCode.ERROR and "no answer" in span.status.description
    assert sc.GEN_AI_OUTPUT_MESSAGES not in span.attributes and sc.GEN_AI_INPUT_MESSAGES in span.attributes


@pytest.mark.parametrize("value", ["false", "NO_CONTENT", "event_only"])
def test_the_standard_switch_keeps_content_off_the_span(memory, monkeypatch, value) -> None:
    monkeypatch.setenv(sc.CAPTURE_CONTENT_ENV, value)
    emit_span(_record(), 1, 2, 2)
    (span,) = memory.get_finished_spans()
    assert not any(k in span.attributes for k in sc.GEN_AI_CONTENT)
    assert span.attributes[sc.GEN_AI_INPUT_TOKENS] == 120  # everything else stays


def _llm_run(store: Store, tracing: object) -> Session:
    register_stand_in(ScriptedStandIn())
    s = Session(seed=5, rounds=2, store=store, tracing=tracing)
    s.spawn(LLMAgent, n=1, role="buyer", persona="bargain_hunter", budget=200, value=(40, 90), demand=2)
    s.spawn(LLMAgent, n=1, role="seller", persona="honest_seller", cost=(10, 40), capacity=3)
    s.run()
    return s


@pytest.mark.parametrize("capture", [True, False])
def test_prompts_reach_the_store_and_an_http_receiver_only_when_capture_is_on(tmp_path, capture) -> None:
    receiver = HttpReceiver().start()
    try:
        store = Store(str(tmp_path / "c.db"))
        s = _llm_run(store, setup_tracing(store, otlp_endpoint=receiver.url, capture_content=capture))
    finally:
        receiver.stop()
    calls = trace_read.llm_calls(store, s.run_id)
    got = [sp for sp in receiver.spans if sp["attrs"].get(sc.GEN_AI_OPERATION) == "chat"]
    assert calls and len(got) == len(calls)
    assert all(c.kind == "CLIENT" for c in calls) and all(sp["kind"] == 3 for sp in got)  # 3: SPAN_KIND_CLIENT
    for attrs in [c.attrs() for c in calls] + [sp["attrs"] for sp in got]:
        assert (sc.GEN_AI_INPUT_MESSAGES in attrs) is capture and (sc.GEN_AI_OUTPUT_MESSAGES in attrs) is capture
        assert attrs[sc.GEN_AI_USAGE_COST] == attrs[sc.LLM_COST] and sc.GEN_AI_REQUEST_SEED in attrs
    if capture:
        first = json.loads(calls[0].attrs()[sc.GEN_AI_INPUT_MESSAGES])
        assert first[0]["role"] == "system" and first[0]["parts"][0]["type"] == "text"
    turns = [sp for sp in receiver.spans if sp["attrs"].get(sc.GEN_AI_OPERATION) == sc.SPAN_AGENT_TURN]
    assert len(turns) == 4 and all(sp["name"].startswith("invoke_agent ") for sp in turns)  # 2 LLM agents x 2 rounds


def test_prompts_reach_a_grpc_receiver(tmp_path, monkeypatch) -> None:
    monkeypatch.delenv(sc.CAPTURE_CONTENT_ENV, raising=False)
    receiver = GrpcReceiver().start()
    try:
        store = Store(str(tmp_path / "g.db"))
        s = _llm_run(store, setup_tracing(store, otlp_endpoint=receiver.url, otlp_protocol="grpc"))
    finally:
        receiver.stop()
    chats = [sp for sp in receiver.spans if sp["attrs"].get(sc.GEN_AI_OPERATION) == "chat"]
    assert len(chats) == len(trace_read.llm_calls(store, s.run_id)) > 0
    out = json.loads(chats[0]["attrs"][sc.GEN_AI_OUTPUT_MESSAGES])
    assert out[0]["role"] == "assistant" and out[0]["finish_reason"]
