"""When a model request is really sent, so that its timeout counts from then (issue 19).

``litellm.acompletion`` first hands the call to a worker thread of the event loop's default
executor (a few threads: ``min(32, cpus + 4)``), which builds the request and returns the
coroutine that sends it (``agents.llm.lite.acompletion_on_loop`` builds it on the loop's thread
instead, for the paths it covers; the deadline works the same). Under load calls queue there, and a deadline started when the call
was handed over counted that queue as the model's time: queued calls were recorded as model
timeouts. Here the deadline starts when the request is sent:

- the call's task carries a ``Sent`` in a context variable (``sending``); litellm runs its
  worker in a copy of that context, so whatever runs for the call can mark it (``mark_sent``);
- litellm's pre-API-call hook marks it right before the HTTP request (``watch_litellm``), and
  the in-process providers (the scripted stand-in, a replay's record) mark it as they answer;
- ``answer_within`` waits for the answer: until the request is sent the wait is queueing
  (bounded by ``SEND_WAIT`` times the timeout, and then a ``NotSent`` error, never a model
  timeout); once sent, the call has its timeout from that moment.
"""

from __future__ import annotations

import asyncio
import contextvars
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

SEND_WAIT = 2.0
"""How many timeouts a call may wait to be sent (litellm's worker threads busy) before it is given up."""


class NotSent(Exception):
    """The request was not sent in time: it waited for litellm's worker threads (not the model's time)."""


class Sent:
    """The moment one request was sent (``at``: ``time.perf_counter()``, ``at_ns``: ``time.time_ns()``).

    ``gate``, when set, is the call's ``CallPool``: the request takes its place under the cap in
    the HTTP transport (``GatedTransport``), only while it is at the provider; litellm's hooks
    then do not mark it (the transport does, once it has a place).
    """

    def __init__(self, gate: Any = None, retry: int = 0) -> None:
        self.retry = retry  # which retry of the same request this is (0: the first try)
        self.loop = asyncio.get_running_loop()
        self.event = asyncio.Event()
        self.at: float | None = None
        self.at_ns: int | None = None
        self.gate = gate
        self.at_cap = False  # waiting for a place under the cap in the transport (queueing, unbounded)

    def mark(self, by_transport: bool = False) -> None:
        """Note that the request is going out now (from any thread; the first mark counts)."""
        if self.at is not None or (self.gate is not None and not by_transport):
            return
        self.at, self.at_ns = time.perf_counter(), time.time_ns()
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self.loop:
            self.event.set()
        else:  # litellm's worker thread
            self.loop.call_soon_threadsafe(self.event.set)


_SENT: contextvars.ContextVar[Sent | None] = contextvars.ContextVar("agora_llm_sent", default=None)


@contextmanager
def sending(sent: Sent) -> Iterator[None]:
    """Tasks created inside see ``sent`` (create the call's task in this block)."""
    token = _SENT.set(sent)
    try:
        yield
    finally:
        _SENT.reset(token)


def mark_sent() -> None:
    """Mark the current call's request as sent (no-op outside a call made by ``call_model``)."""
    sent = _SENT.get()
    if sent is not None:
        sent.mark()


def current_retry() -> int | None:
    """Which retry of its request the current call is (0 for the first try), or None outside ``call_model``.

    In-process stand-ins draw their injected faults from the request and this number, so the
    same run draws the same faults whatever ran on the handler before.
    """
    sent = _SENT.get()
    return None if sent is None else sent.retry


async def answer_within(task: asyncio.Future[Any], sent: Sent, timeout: float) -> Any:
    """The result of ``task``, given ``timeout`` seconds from when its request was sent.

    Raises ``TimeoutError`` (a model timeout, with a sentence) when the model took longer, and
    ``NotSent`` when the request waited more than ``SEND_WAIT * timeout`` to be sent.
    """
    waiter = asyncio.ensure_future(sent.event.wait())
    try:
        await asyncio.wait({task, waiter}, timeout=SEND_WAIT * timeout, return_when=asyncio.FIRST_COMPLETED)
        while not task.done() and sent.at is None and sent.at_cap:  # waiting under the cap, as before any call
            await asyncio.wait({task, waiter}, timeout=SEND_WAIT * timeout, return_when=asyncio.FIRST_COMPLETED)
        if task.done():
            return task.result()
        if sent.at is None:
            raise NotSent(
                f"the request was not sent within {SEND_WAIT * timeout:g} s of being handed to litellm "
                "(its worker threads were busy); no model time was spent"
            )
        left = timeout - (time.perf_counter() - sent.at)
        done, _ = await asyncio.wait({task}, timeout=max(left, 0.0))
        if not done:
            raise TimeoutError(f"no answer within {timeout:g} s of sending the request")
        return task.result()
    finally:
        waiter.cancel()
        if not task.done():
            task.cancel()


_WATCHED: set[int] = set()


def watch_litellm(litellm: Any) -> None:
    """Register (once) the litellm callback that marks a request sent right before it goes out."""
    if id(litellm) in _WATCHED:
        return
    from agents.llm.lite import CustomLogger

    class _SentHook(CustomLogger):
        def log_pre_api_call(self, model: Any, messages: Any, kwargs: Any) -> None:
            mark_sent()

    litellm.callbacks = [*litellm.callbacks, _SentHook()]
    from agents.llm import lite

    lite.AGORA_CALLBACKS = (*lite.AGORA_CALLBACKS, _SentHook)  # Agora's own: no success logging needed for it
    _WATCHED.add(id(litellm))


class GatedTransport:
    """An httpx transport that holds a place under the call's cap only while its request is at the provider.

    Wraps litellm's own transport (``gated_http_client``). A request made by ``call_model`` with a
    gate (``Sent.gate``) waits here for a place under the cap, is marked sent, and gives the place
    back as soon as the answer's body has been read, before the OpenAI SDK and litellm parse it,
    price it and log it. litellm's request preparation (in its worker thread) and its handling of
    the answer so run outside the cap: the cap counts requests at the provider, and a place freed
    by an answer goes at once to a request already prepared. Requests without a gate pass through.
    """

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    async def handle_async_request(self, request: Any) -> Any:
        """Send ``request`` through the wrapped transport, under the cap when the call has a gate."""
        sent = _SENT.get()
        if sent is None or sent.gate is None:
            return await self.inner.handle_async_request(request)
        import httpx

        pool = sent.gate
        sent.at_cap = True
        async with pool.place():
            sent.at_cap = False
            sent.mark(by_transport=True)
            pool.enter()
            try:
                response = await self.inner.handle_async_request(request)
                try:
                    body = b"".join([chunk async for chunk in response.stream])
                finally:
                    await response.aclose()
            finally:
                pool.leave()
        return httpx.Response(
            response.status_code,
            headers=response.headers,
            stream=httpx.ByteStream(body),
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        """Close the wrapped transport."""
        await self.inner.aclose()

    async def __aenter__(self) -> GatedTransport:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.aclose()


def gated_http_client(litellm_client: Any) -> Any:
    """``litellm_client`` (an ``httpx.AsyncClient`` as litellm builds it) with its transports gated."""
    litellm_client._transport = GatedTransport(litellm_client._transport)
    litellm_client._mounts = {
        k: (GatedTransport(v) if v is not None else None) for k, v in litellm_client._mounts.items()
    }
    return litellm_client
