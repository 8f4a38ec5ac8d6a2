"""The record of every model call: request, response, usage, cost, latency, fault, request hash.

The LLM agent keeps these rows and the session drains them into the round's batch (table
``llm_calls``, defined in ``traces.llm_calls``). A replay answers each call from the record
by its request hash, so the hash covers exactly what decides the answer: the model, the
messages, the tools and the sampling parameters (not timeouts or keys).
Each call also gets a ``chat`` CLIENT span through the OpenTelemetry API with the GenAI attributes
(``emit_span``; message shapes in ``agents.llm.span_content``).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from opentelemetry import trace

from agents.llm import span_content
from protocols import semconv as sc

tracer = trace.get_tracer(__name__)

FAULTS = (
    "rate_limited",  # HTTP 429
    "server_error",  # HTTP 5xx
    "timeout",  # no answer in time (a hang)
    "connection",  # the server could not be reached
    "auth",  # missing or refused credentials
    "bad_request",  # the provider refused the request itself
    "malformed",  # tool-call arguments that are not JSON or not a valid action
    "refusal",  # text and no tool call
    "empty",  # no text and no tool call
    "invalid",  # a well-formed action the dry run rejected
    "budget",  # a token or money budget stopped the call before it was sent
    "gave_up",  # the turn ended with no action after the retry or repair bound
    "error",  # anything else
)
SAMPLING_KEYS = ("temperature", "top_p", "max_tokens", "seed", "tool_choice", "parallel_tool_calls", "api_base")


def canonical(obj: Any) -> str:
    """Stable JSON text of ``obj`` (sorted keys, no spaces)."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)


_TOOLS_HASHES: dict[int, tuple[list[dict[str, Any]], str]] = {}


def tools_hash(tools: list[dict[str, Any]]) -> str:
    """sha256 of the tool definitions (remembered per list object: agents share a few lists)."""
    hit = _TOOLS_HASHES.get(id(tools))
    if hit is not None and hit[0] is tools:
        return hit[1]
    digest = hashlib.sha256(canonical(tools).encode()).hexdigest()
    if len(_TOOLS_HASHES) < 64:  # tool lists are module-level constants; anything else is not cached
        _TOOLS_HASHES[id(tools)] = (tools, digest)
    return digest


def request_hash(
    model: str, messages: list[dict[str, Any]], tools: list[dict[str, Any]], params: dict[str, Any]
) -> str:
    """sha256 of what decides a model's answer: model, messages, tools and sampling parameters."""
    sampling = {k: params[k] for k in SAMPLING_KEYS if k in params and k != "api_base"}
    blob = canonical({"model": model, "messages": messages, "tools_sha256": tools_hash(tools), "params": sampling})
    return hashlib.sha256(blob.encode()).hexdigest()


@dataclass
class CallRecord:
    """One attempt at a model call (or a budget stop / a turn given up), as stored."""

    agent_id: str
    seq: int
    turn_round: int
    attempt: int
    event: str = "call"
    model: str = ""
    request_hash: str = ""
    messages: list[dict[str, Any]] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)
    tools_sha256: str = ""
    tools: list[dict[str, Any]] | None = None
    response: dict[str, Any] | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0
    latency_ms: float = 0.0
    queue_ms: float = 0.0
    fault: str | None = None
    error: str | None = None

    def row(self) -> dict[str, Any]:
        """The ``llm_calls`` row (without ``run_id`` and ``round``, which the session adds)."""
        return {
            "agent_id": self.agent_id,
            "seq": self.seq,
            "attempt": self.attempt,
            "event": self.event,
            "model": self.model,
            "request_hash": self.request_hash,
            "messages_json": canonical(self.messages),
            "params_json": canonical(self.params),
            "tools_sha256": self.tools_sha256,
            "tools_json": canonical(self.tools) if self.tools is not None else None,
            "response_json": canonical(self.response) if self.response is not None else None,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "cost_usd": self.cost,
            "latency_ms": round(self.latency_ms, 3),
            "queue_ms": round(self.queue_ms, 3),
            "fault": self.fault,
            "error": self.error,
        }


def provider_of(model: str) -> str:
    """The provider part of a litellm model string (``openai/gpt-4o-mini`` -> ``openai``)."""
    return model.split("/", 1)[0] if "/" in model else "openai"


def emit_span(rec: CallRecord, start_ns: int, end_ns: int, round_: int) -> None:
    """A ``chat <model>`` CLIENT span for one call, under whatever span is current (the agent's turn, if traced).

    GenAI conventions: operation, provider, models, tokens, finish reasons, request parameters,
    ``error.type`` on a fault, and the prompt and completion as ``gen_ai.input.messages`` /
    ``gen_ai.output.messages`` unless ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT`` says
    no (the tracing layer also drops them when a run's tracing has ``capture_content=False``).
    Cost goes where Langfuse (``gen_ai.usage.cost``) and Phoenix (``llm.cost.total``) read it.
    """
    span = tracer.start_span(f"{sc.SPAN_CHAT} {rec.model}", kind=trace.SpanKind.CLIENT, start_time=start_ns)
    if span.is_recording():
        response = rec.response or {}
        finish = [str(c.get("finish_reason")) for c in response.get("choices") or []]
        attrs: dict[str, Any] = {
            sc.GEN_AI_OPERATION: sc.SPAN_CHAT,
            sc.GEN_AI_PROVIDER: provider_of(rec.model),
            sc.GEN_AI_REQUEST_MODEL: rec.model,
            sc.GEN_AI_INPUT_TOKENS: rec.prompt_tokens,
            sc.GEN_AI_OUTPUT_TOKENS: rec.completion_tokens,
            sc.GEN_AI_FINISH_REASONS: finish,
            sc.GEN_AI_AGENT_ID: rec.agent_id,
            sc.AGENT_ID: rec.agent_id,
            sc.ROUND: round_,
            sc.LLM_REQUEST_HASH: rec.request_hash,
            sc.LLM_CALL_SEQ: rec.seq,
            sc.LLM_COST: rec.cost,
            sc.GEN_AI_USAGE_COST: rec.cost,
            sc.OI_COST_TOTAL: rec.cost,
            **span_content.request_attributes(rec.params),
        }
        if response.get("model"):
            attrs[sc.GEN_AI_RESPONSE_MODEL] = str(response["model"])
        if response.get("id"):
            attrs[sc.GEN_AI_RESPONSE_ID] = str(response["id"])
        if span_content.capture_on():
            attrs[sc.GEN_AI_INPUT_MESSAGES] = span_content.input_messages(rec.messages)
            if response:
                attrs[sc.GEN_AI_OUTPUT_MESSAGES] = span_content.output_messages(response)
        if rec.fault:
            attrs[sc.LLM_FAULT] = rec.fault
            attrs[sc.ERROR_TYPE] = rec.fault  # low-cardinality: one of FAULTS
        span.set_attributes(attrs)
        if rec.fault:
            span.set_status(trace.Status(trace.StatusCode.ERROR, rec.error or rec.fault))
    span.end(end_time=end_ns)
