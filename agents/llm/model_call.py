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
from dataclasses import dataclass, field
from typing import Any, Protocol

from agents.llm.budget import CallPool, Limits, Spend
from agents.llm.calls import CallRecord, emit_span, request_hash, tools_hash
from agents.llm.faults import RETRYABLE, checked_usage, classify


def _litellm() -> Any:
    """litellm, imported on first use: it takes seconds to import and must not try the network."""
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    import litellm

    litellm.suppress_debug_info = True  # its help banners would interleave with the run's output
    return litellm


@dataclass(frozen=True)
class RecordedAnswer:
    """A call's answer as a record holds it: the response body, or the fault the call had."""

    body: dict[str, Any] | None
    cost: float = 0.0
    fault: str | None = None
    error: str | None = None


class RecordedAnswers(Protocol):
    """Answers looked up by request hash instead of calling a model (a replay; see sandbox.llm_replay)."""

    def lookup(
        self,
        request_hash: str,
        model: str,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]],
        params: dict[str, Any],
    ) -> RecordedAnswer:
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


@dataclass
class CallLog:
    """An agent's spend and its records waiting to be drained by the session."""

    agent_id: str
    spend: Spend = field(default_factory=Spend)
    records: list[CallRecord] = field(default_factory=list)
    tools_sent: set[str] = field(default_factory=set)
    seq: int = 0
    stopped: str | None = None

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


def _stop_reason(log: CallLog, settings: CallSettings) -> str | None:
    # Only the agent's own budget is checked per call: its spend grows in its own order. The
    # session budget admits whole turns, in a seeded order (CallPool.admit), never per call,
    # where the answer would depend on which other agents' calls had finished.
    mine = settings.limits.exceeded(log.spend)
    return f"agent {mine}" if mine else None


def _answered(
    rec: CallRecord, log: CallLog, pool: CallPool, body: dict[str, Any], cost: float, start_ns: int, turn_round: int
) -> dict[str, Any]:
    """Record an answered call (usage, cost, spend, span); the assistant message."""
    rec.response = body
    usage = body.get("usage") or {}
    rec.prompt_tokens, rec.completion_tokens, wrong = checked_usage(usage)  # never negative (issue 19)
    rec.error = wrong or rec.error
    rec.cost = cost
    log.spend.add(rec.prompt_tokens, rec.completion_tokens, rec.cost)
    pool.spend.add(rec.prompt_tokens, rec.completion_tokens, rec.cost)
    emit_span(rec, start_ns, time.time_ns(), turn_round)
    choices = body.get("choices") or []
    return (choices[0].get("message") if choices else None) or {"role": "assistant", "content": ""}


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
        if settings.answers is not None:  # a replay: a lookup by the request hash, no model and no cap
            start_ns, t0 = time.time_ns(), time.perf_counter()
            got = settings.answers.lookup(rhash, settings.model, messages, tools, settings.params)
            rec.latency_ms = (time.perf_counter() - t0) * 1000
            if got.body is not None:
                return _answered(rec, log, pool, got.body, got.cost, start_ns, turn_round), rec
            rec.fault, rec.error = got.fault or "error", got.error
            emit_span(rec, start_ns, time.time_ns(), turn_round)
            if rec.fault not in RETRYABLE or retry == settings.max_retries:
                return None, rec
            continue  # the recorded retry follows; there is no model to wait for
        litellm = _litellm()
        queued = time.perf_counter()
        async with pool.place():
            start_ns, t0 = time.time_ns(), time.perf_counter()
            rec.queue_ms = (t0 - queued) * 1000  # waiting for a place under the cap, not model time
            pool.enter()
            try:
                resp = await asyncio.wait_for(
                    litellm.acompletion(
                        model=settings.model,
                        messages=messages,
                        tools=tools,
                        timeout=settings.timeout,
                        max_retries=0,
                        num_retries=0,
                        drop_params=True,
                        **settings.params,
                    ),
                    settings.timeout + 1.0,
                )
            except Exception as err:  # every model or network failure is a recorded fault, never a crash
                rec.fault, rec.error = classify(err), f"{type(err).__name__}: {str(err)[:500]}"
                resp = None
            finally:
                pool.leave()
        rec.latency_ms = (time.perf_counter() - t0) * 1000
        if resp is not None:
            message = _answered(
                rec, log, pool, resp.model_dump(mode="json"), _cost(resp, settings.model), start_ns, turn_round
            )
            return message, rec
        emit_span(rec, start_ns, time.time_ns(), turn_round)
        if rec.fault not in RETRYABLE or retry == settings.max_retries:
            return None, rec
        delay = min(settings.backoff * 2**retry, settings.backoff_cap) * (
            0.5 + random.Random(f"{rhash}/{retry}").random()
        )
        await asyncio.sleep(delay)
    return None, None
