"""One model call with everything around it: budgets, the in-flight cap, timeouts, retries
with backoff on 429, 5xx, timeouts and lost connections, the call record and its span.

Never raises for a model or network problem: it returns the assistant message, or None with
the fault recorded. Each attempt (a retry included) is its own record, with its fault kind.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from agents.llm.budget import CallPool, Limits, Spend
from agents.llm.calls import CallRecord, emit_span, request_hash, tools_hash
from agents.llm.faults import MAX_ANSWER_CHARS, MAX_TOOL_CALLS, RETRYABLE, cap_answer, checked_usage, classify, cut_note
from agents.llm.sending import Sent, answer_within, gated_http_client, sending


def _litellm() -> Any:
    """litellm, imported on first use: it takes seconds to import and must not try the network."""
    from agents.llm.lite import litellm

    litellm.suppress_debug_info = True  # its help banners would interleave with the run's output
    from agents.llm.sending import watch_litellm

    watch_litellm(litellm)  # tells when a request is really sent (agents.llm.sending)
    return litellm


def _lite() -> Any:
    """The module ``agents.llm.lite`` (imported on first use, as litellm is)."""
    from agents.llm import lite

    return lite


@dataclass(frozen=True)
class RecordedAnswer:
    """A call's answer as a record holds it: the response body, or the fault the call had."""

    body: dict[str, Any] | None
    cost: float = 0.0
    fault: str | None = None
    error: str | None = None
    latency_ms: float | None = None  # as recorded, when the record is a paid call answered again (a resume)
    queue_ms: float | None = None


class RecordedAnswers(Protocol):
    """Answers looked up by request hash instead of calling a model (a replay; see sandbox.replay.llm).

    ``lookup`` may return None: the record does not hold this request and the model is called
    (a resume answers the calls its killed segment paid for, then goes live). A record that
    answers every call (``complete = True``: a replay's) lets the agent run its turn without
    LangGraph (``agents.llm.graph.run_direct``).
    """

    complete: bool

    def lookup(
        self,
        request_hash: str,
        model: str,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]],
        params: dict[str, Any],
    ) -> RecordedAnswer | None:
        """The recorded answer to this request (a request the record lacks is a ``bad_request`` fault)."""
        ...


@dataclass
class CallSettings:
    """How an agent calls its model."""

    model: str
    params: dict[str, Any] = field(default_factory=dict)
    timeout: float = 60.0
    max_retries: int = 3
    backoff: float = 0.5
    backoff_cap: float = 8.0
    limits: Limits = field(default_factory=Limits)
    answers: RecordedAnswers | None = None  # set during a replay: no model is called
    max_answer_chars: int = MAX_ANSWER_CHARS  # longer answers are cut before they are kept or sent back
    max_tool_calls: int = MAX_TOOL_CALLS  # tool calls beyond it in one answer are dropped


@dataclass
class CallLog:
    """An agent's spend and its records waiting to be drained by the session."""

    agent_id: str
    spend: Spend = field(default_factory=Spend)
    records: list[CallRecord] = field(default_factory=list)
    tools_sent: set[str] = field(default_factory=set)
    seq: int = 0
    stopped: str | None = None
    journal: Callable[[CallRecord], None] | None = None  # writes each paid call as it returns (the session's)

    def new(self, turn_round: int, attempt: int, **kw: Any) -> CallRecord:
        """A new record, numbered within the round."""
        self.seq += 1
        rec = CallRecord(agent_id=self.agent_id, seq=self.seq, turn_round=turn_round, attempt=attempt, **kw)
        self.records.append(rec)
        return rec


def _cost(resp: Any, model: str) -> float:
    hidden = getattr(resp, "_hidden_params", None) or {}
    cost = hidden.get("response_cost")
    return float(cost) if isinstance(cost, (int, float)) else 0.0


async def gated_client(settings: CallSettings, pool: CallPool) -> Any:
    """An OpenAI SDK client whose transport takes the cap's place only while a request is at the provider.

    For ``openai/...`` models given ``api_base`` and ``api_key`` (a local or hosted
    OpenAI-compatible server) on litellm's default path (the OpenAI SDK). One client per pool,
    address, key and event loop, built on litellm's own HTTP client (its aiohttp transport, SSL
    and proxy settings) with the transports wrapped (``agents.llm.sending.GatedTransport``), and
    closed when the loop shuts down (``CallPool.client``). None otherwise: the
    call then holds its place around the whole of litellm's call, as before.
    """
    params = settings.params
    base, key = params.get("api_base"), params.get("api_key")
    if (
        not isinstance(base, str)
        or not isinstance(key, str)
        or settings.model.split("/", 1)[0] != "openai"
        or "client" in params
        or os.environ.get("EXPERIMENTAL_OPENAI_BASE_LLM_HTTP_HANDLER", "").strip().lower() in ("true", "1", "yes")
    ):
        return None

    def make() -> Any:
        from openai import AsyncOpenAI

        from agents.llm.lite import OpenAIChatCompletion

        http = gated_http_client(OpenAIChatCompletion._get_async_http_client())  # litellm's own (aiohttp)
        return AsyncOpenAI(api_key=key, base_url=base, http_client=http, max_retries=0)

    return await pool.client(("openai", base, key), make)


def _stop_reason(log: CallLog, settings: CallSettings) -> str | None:
    # Only the agent's own budget is checked per call: its spend grows in its own order. The
    # session budget admits whole turns, in a seeded order (CallPool.admit), never per call,
    # where the answer would depend on which other agents' calls had finished.
    mine = settings.limits.exceeded(log.spend)
    return f"agent {mine}" if mine else None


def _answered(
    rec: CallRecord,
    log: CallLog,
    pool: CallPool,
    body: dict[str, Any],
    cost: float,
    start_ns: int,
    turn_round: int,
    settings: CallSettings,
) -> dict[str, Any]:
    """Record an answered call (usage, cost, spend, span); the assistant message, cut to the caps."""
    body, rec.cut = cap_answer(body, settings.max_answer_chars, settings.max_tool_calls)
    if rec.cut:  # kept and sent back cut; the record says how much there was (issue 19)
        rec.fault, rec.error = "oversized", cut_note(rec.cut)
    rec.response = body
    usage = body.get("usage") or {}
    rec.prompt_tokens, rec.completion_tokens, wrong = checked_usage(usage)  # never negative (issue 19)
    rec.error = "; ".join(x for x in (rec.error, wrong) if x) or None
    rec.cost = cost
    log.spend.add(rec.prompt_tokens, rec.completion_tokens, rec.cost)
    pool.spend.add(rec.prompt_tokens, rec.completion_tokens, rec.cost)
    emit_span(rec, start_ns, time.time_ns(), turn_round)
    choices = body.get("choices") or []
    return (choices[0].get("message") if choices else None) or {"role": "assistant", "content": ""}


def _journal(log: CallLog, rec: CallRecord) -> None:
    """Hand a paid call to the session's journal as it returns (a killed run keeps it; see docs/reliability.md)."""
    if log.journal is not None:
        log.journal(rec)


async def _ask(
    litellm: Any,
    settings: CallSettings,
    messages: list[dict[str, Any]],
    tools: list[dict[str, Any]],
    sent: Sent,
    extra: dict[str, Any],
) -> tuple[Any, str | None, str | None]:
    """litellm's answer, or None with the fault kind and error (never raises a model or network problem)."""
    kwargs = {
        "timeout": settings.timeout,
        "max_retries": 0,
        "num_retries": 0,
        "drop_params": True,
        **settings.params,
        **extra,
    }
    try:
        lite = _lite()
        # litellm.acompletion prepares each request in a worker thread; the paths Agora uses most
        # (the scripted stand-in, openai/ with the client built here) skip that hop (agents.llm.lite)
        send = lite.acompletion_on_loop if lite.on_loop_fits(settings.model, kwargs) else litellm.acompletion
        with sending(sent):  # the request's task sees it: litellm's hook (or the transport) marks when it is sent
            task = asyncio.ensure_future(send(model=settings.model, messages=messages, tools=tools, **kwargs))
        return await answer_within(task, sent, settings.timeout + 1.0), None, None
    except Exception as err:  # every model or network failure is a recorded fault, never a crash
        return None, classify(err), f"{type(err).__name__}: {str(err)[:500]}"


async def call_model(
    log: CallLog,
    settings: CallSettings,
    pool: CallPool,
    messages: list[dict[str, Any]],
    tools: list[dict[str, Any]],
    turn_round: int,
    attempt: int,
) -> tuple[dict[str, Any] | None, CallRecord | None]:
    """Call the model once (retrying transport faults); the assistant message and its record."""
    thash = tools_hash(tools)
    rhash = request_hash(settings.model, messages, tools, settings.params)
    for retry in range(settings.max_retries + 1):
        reason = log.stopped or _stop_reason(log, settings)
        if reason:
            if log.stopped is None:
                log.stopped = reason
                log.new(turn_round, attempt, event="budget", model=settings.model, fault="budget", error=reason)
            return None, None
        first_tools = thash not in log.tools_sent
        rec = log.new(
            turn_round,
            attempt,
            model=settings.model,
            request_hash=rhash,
            messages=list(messages),
            params={k: v for k, v in settings.params.items() if k != "api_key"},
            tools_sha256=thash,
            tools=tools if first_tools else None,
        )
        log.tools_sent.add(thash)
        start_ns, t0 = time.time_ns(), time.perf_counter()
        got = (
            settings.answers.lookup(rhash, settings.model, messages, tools, settings.params)
            if settings.answers is not None
            else None
        )
        if got is not None:  # a replay or a resume: a lookup by the request hash, no model and no cap
            rec.latency_ms = (time.perf_counter() - t0) * 1000 if got.latency_ms is None else got.latency_ms
            rec.queue_ms = rec.queue_ms if got.queue_ms is None else got.queue_ms
            if got.body is not None:
                message = _answered(rec, log, pool, got.body, got.cost, start_ns, turn_round, settings)
                if got.fault == "oversized" and rec.fault is None:  # cut when it was paid for
                    rec.fault, rec.error = got.fault, got.error
                return message, rec
            rec.fault, rec.error = got.fault or "error", got.error
            emit_span(rec, start_ns, time.time_ns(), turn_round)
            if rec.fault not in RETRYABLE or retry == settings.max_retries:
                return None, rec
            continue  # the recorded retry follows; there is no model to wait for
        litellm = _litellm()
        if settings.model.startswith("scripted/"):  # the offline stand-in, registered on the first live call
            from agents.llm.scripted_model import ensure_stand_in  # (a replay answers from the record: no litellm)

            ensure_stand_in()
        queued = time.perf_counter()
        client = await gated_client(settings, pool)
        if client is not None:  # the transport takes the place under the cap, only while the request is out
            sent = Sent(gate=pool, retry=retry)
            resp, rec.fault, rec.error = await _ask(litellm, settings, messages, tools, sent, {"client": client})
            placed, placed_ns = time.perf_counter(), time.time_ns()  # used only if it was never sent
        else:
            async with pool.place():
                placed, placed_ns = time.perf_counter(), time.time_ns()
                sent = Sent(retry=retry)
                pool.enter()
                try:
                    resp, rec.fault, rec.error = await _ask(litellm, settings, messages, tools, sent, {})
                finally:
                    pool.leave()
        # time under the cap and in litellm's worker threads is queueing, not the model's (issue 19)
        t0 = sent.at if sent.at is not None else placed
        start_ns = sent.at_ns if sent.at_ns is not None else placed_ns
        rec.queue_ms = (t0 - queued) * 1000
        rec.latency_ms = (time.perf_counter() - t0) * 1000
        if resp is not None:
            message = _answered(
                rec,
                log,
                pool,
                resp.model_dump(mode="json"),
                _cost(resp, settings.model),
                start_ns,
                turn_round,
                settings,
            )
            _journal(log, rec)
            return message, rec
        emit_span(rec, start_ns, time.time_ns(), turn_round)
        _journal(log, rec)
        if rec.fault not in RETRYABLE or retry == settings.max_retries:
            return None, rec
        delay = min(settings.backoff * 2**retry, settings.backoff_cap) * (
            0.5 + random.Random(f"{rhash}/{retry}").random()
        )
        await asyncio.sleep(delay)
    return None, None
