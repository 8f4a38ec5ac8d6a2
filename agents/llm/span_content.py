"""Chat messages in the shape the OpenTelemetry GenAI conventions give ``gen_ai.input.messages`` / ``output.messages``.

OpenAI-style messages (what litellm takes and returns) become ``{"role", "parts": [...]}``
objects: text as ``{"type": "text", "content"}``, tool calls the model asked for as
``{"type": "tool_call", "id", "name", "arguments"}`` and tool results as
``{"type": "tool_call_response", "id", "response"}``; output messages carry their
``finish_reason``. Each attribute is one JSON string (span attributes cannot nest).
"""

from __future__ import annotations

import json
import os
from typing import Any
from urllib.parse import urlsplit

from protocols import semconv as sc


def capture_on() -> bool:
    """The standard switch, read on every call: a notebook may flip it between runs."""
    return sc.content_capture(os.environ.get(sc.CAPTURE_CONTENT_ENV))


def _json(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False, default=str)


def _arguments(raw: Any) -> Any:
    """Tool-call arguments as an object when they parse, else the text as the model sent it."""
    if isinstance(raw, str):
        try:
            return json.loads(raw)
        except ValueError:
            return raw
    return raw


def _text_parts(content: Any) -> list[dict[str, Any]]:
    if content is None or content == "":
        return []
    if isinstance(content, str):
        return [{"type": "text", "content": content}]
    if isinstance(content, list):  # multi-part content: keep the text, name other kinds
        out = []
        for part in content:
            if isinstance(part, dict) and part.get("type") == "text":
                out.append({"type": "text", "content": part.get("text", "")})
            elif isinstance(part, dict):
                out.append({"type": str(part.get("type", "unknown"))})
        return out
    return [{"type": "text", "content": str(content)}]


def _parts(msg: dict[str, Any]) -> list[dict[str, Any]]:
    if msg.get("role") == "tool":
        return [{"type": "tool_call_response", "id": msg.get("tool_call_id"), "response": msg.get("content")}]
    parts = _text_parts(msg.get("content"))
    for call in msg.get("tool_calls") or []:
        fn = call.get("function") or {}
        parts.append(
            {
                "type": "tool_call",
                "id": call.get("id"),
                "name": fn.get("name"),
                "arguments": _arguments(fn.get("arguments")),
            }
        )
    return parts


def input_messages(messages: list[dict[str, Any]]) -> str:
    """``gen_ai.input.messages`` for the request's messages (system messages included, in order)."""
    return _json([{"role": m.get("role", "user"), "parts": _parts(m)} for m in messages])


def output_messages(response: dict[str, Any]) -> str:
    """``gen_ai.output.messages`` for a chat completion's choices."""
    out = []
    for choice in response.get("choices") or []:
        msg = choice.get("message") or {}
        out.append(
            {
                "role": msg.get("role") or "assistant",
                "parts": _parts(msg),
                "finish_reason": str(choice.get("finish_reason") or "stop"),
            }
        )
    return _json(out)


REQUEST_PARAMS = (
    ("temperature", sc.GEN_AI_REQUEST_TEMPERATURE, float),
    ("max_tokens", sc.GEN_AI_REQUEST_MAX_TOKENS, int),
    ("seed", sc.GEN_AI_REQUEST_SEED, int),
    ("top_p", sc.GEN_AI_REQUEST_TOP_P, float),
)


def request_attributes(params: dict[str, Any]) -> dict[str, Any]:
    """``gen_ai.request.*`` for the sampling parameters sent, and ``server.*`` for an ``api_base``."""
    out: dict[str, Any] = {}
    for key, attr, kind in REQUEST_PARAMS:
        value = params.get(key)
        if value is not None and not isinstance(value, bool):
            try:
                out[attr] = kind(value)
            except (TypeError, ValueError):
                pass  # a value the provider would refuse anyway; the call's record keeps it as sent
    base = params.get("api_base")
    if base:
        parts = urlsplit(str(base))
        if parts.hostname:
            out[sc.SERVER_ADDRESS] = parts.hostname
            out[sc.SERVER_PORT] = parts.port or (443 if parts.scheme == "https" else 80)
    return out
