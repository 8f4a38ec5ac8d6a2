"""The fault kind of a failed model call, read from exception types and status codes.

litellm wraps provider errors in its own classes, and the wrapping changes between releases
(a refused connection has been an ``APIConnectionError`` and, since 1.7x, an
``InternalServerError`` with status 500 whose text says "Connection error."). The kind is
therefore decided from what does not change: the exception chain (``__cause__`` /
``__context__``: litellm keeps the OpenAI SDK's and httpx's or aiohttp's exceptions there)
and the HTTP status, never from message text.

Kinds: ``timeout``, ``connection``, ``rate_limited``, ``auth``, ``bad_request``,
``server_error`` and ``error`` (anything else).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

RETRYABLE = frozenset({"rate_limited", "server_error", "timeout", "connection"})
"""Kinds worth another attempt after a backoff."""

_TIMEOUT_NAMES = frozenset(
    {
        "Timeout",
        "APITimeoutError",
        "TimeoutException",
        "ReadTimeout",
        "ConnectTimeout",
        "WriteTimeout",
        "PoolTimeout",
        "ServerTimeoutError",
        "ConnectionTimeoutError",
        "SocketTimeoutError",
    }
)
_CONNECTION_NAMES = frozenset(
    {
        "APIConnectionError",
        "ConnectError",
        "NetworkError",
        "RemoteProtocolError",
        "ReadError",
        "WriteError",
        "ClientConnectionError",
        "ClientConnectorError",
        "ClientConnectorDNSError",
        "ServerDisconnectedError",
        "ClientOSError",
        "ServerConnectionError",
    }
)
_TRANSPORT_MODULES = ("openai", "httpx", "httpcore", "aiohttp", "litellm")


def _chain(err: BaseException) -> Iterator[BaseException]:
    """``err`` and the exceptions it was raised from, outermost first (cycles cut)."""
    seen: set[int] = set()
    cur: BaseException | None = err
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        yield cur
        cur = cur.__cause__ or cur.__context__


def _names(exc: BaseException) -> set[str]:
    """Class names along the MRO of ``exc`` that come from the HTTP stack (or litellm)."""
    return {k.__name__ for k in type(exc).__mro__ if (k.__module__ or "").split(".")[0] in _TRANSPORT_MODULES}


def _module_root(exc: BaseException) -> str:
    return (type(exc).__module__ or "").split(".")[0]


def _http_status(exc: BaseException) -> int | None:
    """The status an exception carries, as an attribute or on its response."""
    for value in (getattr(exc, "status_code", None), getattr(getattr(exc, "response", None), "status_code", None)):
        if isinstance(value, int) and 100 <= value <= 599:
            return value
    return None


def _answered_status(chain: list[BaseException]) -> int | None:
    """The status a server really answered with: carried by the OpenAI SDK's or httpx's own exception."""
    for exc in chain:
        if _module_root(exc) in ("openai", "httpx"):
            status = _http_status(exc)
            if status is not None:
                return status
    return None


def classify(err: BaseException) -> str:
    """The fault kind of an exception raised by a model call (see the module docstring)."""
    chain = list(_chain(err))
    if any(isinstance(e, TimeoutError) or _names(e) & _TIMEOUT_NAMES for e in chain):
        return "timeout"
    # A transport failure (litellm may still label it with status 500, so it is decided before the status).
    if any(_names(e) & _CONNECTION_NAMES or isinstance(e, ConnectionError) for e in chain):
        return "connection"
    status = _answered_status(chain)
    if status is None and len(chain) > 1 and _module_root(chain[-1]) not in _TRANSPORT_MODULES:
        # wrapped by litellm, but the root cause is no HTTP answer at all (a socket refused the address,
        # a TLS or DNS failure surfacing as a plain exception): the request never got through
        return "connection"
    if status is None:
        status = _http_status(err)  # raised by litellm itself or by a custom provider, with no answer below
    if status == 429:
        return "rate_limited"
    if status in (401, 403):
        return "auth"
    if status is not None and 400 <= status < 500:
        return "bad_request"
    if status is not None and status >= 500:
        return "server_error"
    return "error"


MAX_CALL_TOKENS = 10_000_000
"""More tokens than any model's context in one call: a count past it is taken as wrong."""


def checked_usage(usage: Any) -> tuple[int, int, str | None]:
    """(prompt, completion) tokens from a response's ``usage``, each clamped to 0..MAX_CALL_TOKENS.

    A model (or a server in front of it) may report negative, absurd or non-numeric counts; taken
    as given they would make the spend negative and switch the budget off. The third value says
    what was wrong, for the call's record, or is None.
    """
    out, wrong = [], []
    for key in ("prompt_tokens", "completion_tokens"):
        raw = usage.get(key) if isinstance(usage, dict) else None
        try:
            n = int(raw or 0)
        except (TypeError, ValueError, OverflowError):
            n, raw = 0, repr(raw)[:40]
        clamped = min(max(n, 0), MAX_CALL_TOKENS)
        if clamped != n or (raw not in (None, 0) and not isinstance(raw, (int, float))):
            wrong.append(f"{key}={raw}")
        out.append(clamped)
    note = f"usage out of range ({', '.join(wrong)}); counted as {out[0]} and {out[1]}" if wrong else None
    return out[0], out[1], note


MAX_ANSWER_CHARS = 16_000
"""Characters of an answer kept by default (its text plus its tool calls' names and arguments).

About four times what ``DEFAULT_MAX_TOKENS`` tokens of text take: a model that keeps to its
completion cap is never cut; one that ignores it (or a server that pads its answers) is.
"""
MAX_TOOL_CALLS = 32
"""Tool calls kept from one answer by default; the rest are dropped (and said to be)."""
_KEEP = ("role", "content", "tool_calls")


def _text_len(value: Any) -> int:
    return len(value) if isinstance(value, str) else len(str(value)) if value is not None else 0


def cap_answer(
    body: dict[str, Any], max_chars: int, max_tool_calls: int
) -> tuple[dict[str, Any], dict[str, int] | None]:
    """``body`` cut to at most ``max_chars`` characters of answer and ``max_tool_calls`` tool calls.

    Returns the body (the same object when nothing was cut) and what was cut, or None: the
    original and kept characters (text, tool-call names and arguments) and tool calls, and the
    characters in other fields (allowed up to ``max_chars`` too). A cut answer keeps only its first choice's
    role, text and tool calls (other fields of a cut message are dropped); text is cut first,
    then the arguments of the tool calls kept, in order, so a cut argument is malformed JSON and
    the agent's repair loop tells the model so.
    """
    choices = body.get("choices")
    if not (isinstance(choices, list) and choices and isinstance(choices[0], dict)):
        return body, None
    message = choices[0].get("message")
    if not isinstance(message, dict):
        return body, None
    calls = message.get("tool_calls") or []
    if not isinstance(calls, list):
        calls = []
    extra = sum(_text_len(v) for k, v in message.items() if k not in _KEEP)
    other = sum(_text_len(v) for k, v in body.items() if k not in ("choices", "usage")) + sum(
        _text_len(c) for c in choices[1:]
    )

    def fn(c: Any) -> dict[str, Any]:
        f = c.get("function") if isinstance(c, dict) else None
        return f if isinstance(f, dict) else {}

    chars = _text_len(message.get("content")) + sum(
        _text_len(fn(c).get("name")) + _text_len(fn(c).get("arguments")) for c in calls
    )
    if chars <= max_chars and extra + other <= max_chars and len(calls) <= max_tool_calls:
        return body, None
    left = max_chars
    content = message.get("content")
    if isinstance(content, str):
        content = content[:left]
        left -= len(content)
    elif content is not None:
        content = None  # text parts or anything else: not worth keeping in a cut answer
    kept_calls: list[dict[str, Any]] = []
    for c in calls[:max_tool_calls]:
        f = fn(c)
        name = str(f.get("name") or "")[:200]
        args = f.get("arguments")
        args = args if isinstance(args, str) else json.dumps(args, default=str)
        args = args[: max(left - len(name), 0)]
        left -= len(name) + len(args)
        cid = c.get("id") if isinstance(c, dict) else None
        kept_calls.append(
            {
                "id": str(cid)[:100] if cid is not None else None,
                "type": "function",
                "function": {"name": name, "arguments": args},
            }
        )
    cut_message: dict[str, Any] = {"role": "assistant", "content": content}
    if kept_calls:
        cut_message["tool_calls"] = kept_calls
    first = {k: v for k, v in choices[0].items() if k in ("index", "finish_reason")}
    cut_body = {
        **{
            k: (v[:200] if isinstance(v, str) else v)
            for k, v in body.items()
            if k in ("id", "model", "object", "created")
        },
        "choices": [{**first, "message": cut_message}],
        "usage": body.get("usage"),
    }
    kept_chars = _text_len(content) + sum(
        _text_len(c["function"]["name"]) + _text_len(c["function"]["arguments"]) for c in kept_calls
    )
    return cut_body, {
        "chars": chars,
        "kept_chars": kept_chars,
        "tool_calls": len(calls),
        "kept_tool_calls": len(kept_calls),
        "other_chars": extra + other,  # in fields besides the text and tool calls, dropped from a cut answer
    }


def cut_note(cut: dict[str, int]) -> str:
    """One sentence saying what ``cap_answer`` cut."""
    parts = []
    if cut["chars"] > cut["kept_chars"]:
        parts.append(f"{cut['chars']:,} characters of answer cut to {cut['kept_chars']:,}")
    if cut["tool_calls"] > cut["kept_tool_calls"]:
        parts.append(f"{cut['tool_calls']:,} tool calls cut to {cut['kept_tool_calls']:,}")
    if not parts:
        parts.append(f"{cut['other_chars']:,} characters in fields besides the text and tool calls dropped")
    return "answer over its caps: " + "; ".join(parts)
