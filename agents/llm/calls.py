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
    "oversized",  # an answer over the size or tool-call caps, cut before it was kept (what was cut: ``error``)
    "budget",  # a token or money budget stopped the call before it was sent
    "gave_up",  # the turn ended with no action after the retry or repair bound
    "error",  # anything else
)
ANSWER_CUT = "agora.llm.answer_cut"
"""The span event of a call whose answer was cut: ``agora.llm.answer.chars`` / ``kept_chars`` /
``tool_calls`` / ``kept_tool_calls`` (``agents.llm.faults.cap_answer``)."""
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


def _canonical_args(raw: Any) -> Any:
    """Tool-call arguments as one text: JSON re-encoded canonically, anything else kept as it came."""
    if isinstance(raw, (dict, list)):
        return canonical(raw)
    if isinstance(raw, str):
        try:
            return canonical(json.loads(raw))
        except ValueError:
            return raw  # malformed arguments are part of what the model saw: keep them byte for byte
    return raw


def _canonical_content(content: Any) -> Any:
    """Message content as a string when it is only text parts; None and "" both mean no content."""
    if isinstance(content, list) and all(isinstance(p, dict) and p.get("type") == "text" for p in content):
        content = "".join(str(p.get("text") or "") for p in content)
    return None if content == "" else content


def canonical_messages(messages: list[Any]) -> list[dict[str, Any]]:
    """The messages in the one form a request hash sees, whoever built them.

    A previous turn's assistant message reaches the next request either as the live model's
    answer or as the recorded answer passed back through litellm, which drops ``None`` fields,
    may turn ``arguments`` into another JSON spelling and keeps the provider's tool-call ids.
    So: fields that are ``None`` (or empty lists) are left out, ``content`` of "" is no content,
    tool-call arguments are canonical JSON, a tool call's ``type`` defaults to ``function``,
    and tool-call ids become ``call_0``, ``call_1``... in order of first appearance (in the
    assistant's calls and the tool results that answer them), so random provider ids do not count.
    """
    ids: dict[str, str] = {}

    def cid(raw: Any) -> str:
        key = str(raw)
        if key not in ids:
            ids[key] = f"call_{len(ids)}"
        return ids[key]

    out: list[dict[str, Any]] = []
    for msg in messages:
        m = msg if isinstance(msg, dict) else dict(msg)
        c: dict[str, Any] = {}
        for k, v in m.items():
            if k == "content":
                v = _canonical_content(v)
            elif k == "tool_calls":
                v = [
                    {
                        "id": cid(t.get("id") if t.get("id") is not None else f"#{i}"),
                        "type": t.get("type") or "function",
                        "function": {
                            "name": (t.get("function") or {}).get("name"),
                            "arguments": _canonical_args((t.get("function") or {}).get("arguments")),
                        },
                    }
                    for i, t in enumerate(x if isinstance(x, dict) else dict(x) for x in (v or []))
                ]
            elif k == "tool_call_id" and v is not None:
                v = cid(v)
            if v is None or (isinstance(v, list) and not v):
                continue
            c[k] = v
        out.append(c)
    return out


def request_view(model: str, messages: list[Any], tools_sha256: str, params: dict[str, Any]) -> dict[str, Any]:
    """What a request hash covers, as a plain structure (the divergence report compares these)."""
    sampling = {k: params[k] for k in SAMPLING_KEYS if k != "api_base" and params.get(k) is not None}
    return {"model": model, "messages": canonical_messages(messages), "tools_sha256": tools_sha256, "params": sampling}


def request_hash(model: str, messages: list[Any], tools: list[dict[str, Any]], params: dict[str, Any]) -> str:
    """sha256 of what decides a model's answer: model, messages, tools and sampling parameters.

    Computed on the canonical form (``canonical_messages``): the same bytes whether the earlier
    answers in ``messages`` came from a model or from a record.
    """
    blob = canonical(request_view(model, messages, tools_hash(tools), params))
    return hashlib.sha256(blob.encode()).hexdigest()


def first_difference(a: Any, b: Any, path: str = "") -> tuple[str, Any, Any] | None:
    """The first place two JSON-like values differ: (path such as ``messages[2].content``, a's value, b's value)."""
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(a.keys() | b.keys()):
            sub = f"{path}.{k}" if path else str(k)
            if k not in a or k not in b:
                return sub, a.get(k, "<missing>"), b.get(k, "<missing>")
            found = first_difference(a[k], b[k], sub)
            if found:
                return found
        return None
    if isinstance(a, list) and isinstance(b, list):
        for i, (x, y) in enumerate(zip(a, b, strict=False)):
            found = first_difference(x, y, f"{path}[{i}]")
            if found:
                return found
        if len(a) != len(b):
            n = min(len(a), len(b))
            return f"{path}[{n}]", a[n] if len(a) > n else "<missing>", b[n] if len(b) > n else "<missing>"
        return None
    return None if a == b and type(a) is type(b) else (path, a, b)


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
    cut: dict[str, int] | None = None  # what the answer caps cut (a span event; the row says it in ``error``)

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
        if rec.cut:
            span.add_event(ANSWER_CUT, {f"agora.llm.answer.{k}": v for k, v in rec.cut.items()}, timestamp=end_ns)
        if rec.fault:
            span.set_status(trace.Status(trace.StatusCode.ERROR, rec.error or rec.fault))
    span.end(end_time=end_ns)
