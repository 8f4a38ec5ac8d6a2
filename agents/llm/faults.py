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
