"""The spans a session makes: the run, its rounds, agent turns, submissions, settlements, policy changes.

Tree: ``session.run`` > ``session.round`` > ``invoke_agent <agent>`` for an LLM agent's turn
(> ``chat`` spans it makes inside) or ``agent.decide`` for a scripted agent's, ``protocol.submit``
(one per submitted action, the checks' outcome as attributes), ``market.settle`` (linked to the
negotiation's first span) and ``policy.change``. Only the ``opentelemetry.trace`` API is used here; ``traces.otel``
configures the SDK. ``NoTracer`` is the switched-off form: the same calls, doing nothing.

The spans made once per agent or action (a scripted agent's turn, a wait, a submission, a
settlement) skip the SDK while the round's span is current and recording: ``sandbox.tracing.rows``
writes each straight as its row, and OTLP export rebuilds the span from it, so a collector sees
the same tree. Elsewhere (an LLM agent's turn, no current round span) the SDK makes them.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from time import time_ns
from typing import TYPE_CHECKING, Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Link, SpanContext, Status, StatusCode, TraceFlags
from opentelemetry.util.types import AnyValue

from protocols import semconv as sc
from protocols.money import to_micros
from protocols.trusted import field_or_none
from sandbox.tracing.off import NoTracer
from sandbox.tracing.rows import RowSpans, current_context, n_actions, submit_attrs, turn_attrs
from traces.otel import RunTrace, SpanCounts, TraceLossError, TraceStoreError, Tracing

__all__ = ["SCOPE", "NoTracer", "SessionTracer", "session_tracer"]

if TYPE_CHECKING:
    from agents.base import Agent, DryRun
    from agents.observation import Observation
    from protocols.policy import IncentivePolicy
    from sandbox.record import ActionRecord, DealRecord, RoundLog
    from sandbox.session import Session

SCOPE = "agora.sandbox"
_NEW_TRACE = otel_context.Context()  # an empty context: a span started in it is the root of a new trace
_MAX_PRICE_MICROS = 2**62  # larger (or non-finite) prices are hostile input; keep them out of int attributes


def _uses_model(agent: Agent) -> bool:
    """An LLM agent (its turns call a model): ``kind`` "llm", or a class that says ``uses_model = True``."""
    return bool(getattr(agent, "uses_model", False)) or agent.kind == "llm"


class SessionTracer(NoTracer):
    """Tracing switched on for one session, writing through ``tracing``."""

    enabled = True

    def __init__(self, session: Session, tracing: Tracing) -> None:
        self.session = session
        self.tracing = tracing
        self.run: RunTrace | None = None
        self.last_counts: SpanCounts | None = None
        self._tracer = trace.get_tracer(SCOPE)
        self._span: Any = None
        self._token: Any = None
        self._thread_first: dict[str, tuple[int, int]] = {}  # thread id -> (trace id, span id) of its first move
        self._turns: dict[str, str] = {}  # agent id -> span id of its turn this round
        self._round_span: Any = None
        self._rows = RowSpans()  # spans made as rows under the current round's span

    # --- the run ------------------------------------------------------------------
    def _open(self) -> RunTrace:
        if self.run is None or self.run.closed:
            self.run = self.tracing.open_run(self.session.run_id)
            self._tracer = trace.get_tracer(SCOPE)  # the SDK tracer itself, not the proxy, once installed
            self._rows.segment(self.run.run_id, getattr(self._tracer, "id_generator", None))
        return self.run

    def start_run(self) -> None:
        """Open the run's span buffer and start ``session.run`` as the current span."""
        self._open()
        s = self.session
        attrs: dict[str, AnyValue] = {
            sc.RUN_ID: s.run_id,
            sc.SESSION_ID: s.run_id,
            sc.SCENARIO: s.scenario.name,
            sc.SEED: s.seed,
        }
        self._span = self._tracer.start_span(sc.SPAN_SESSION, attributes=attrs)
        self._token = otel_context.attach(trace.set_span_in_context(self._span))

    def end_run(self, error: BaseException | None = None) -> None:
        """End ``session.run``, flush every span and check the counts.

        Without ``error``: raises ``TraceStoreError``/``TraceLossError`` on a shortfall. With the
        run's own ``error``: a store failure is raised from it; a count mismatch is added as a note.
        """
        span, self._span = self._span, None
        if span is None:
            return
        otel_context.detach(self._token)
        span.set_attribute(sc.RUN_STATUS, "failed" if error else "ok")
        if error is not None:
            span.record_exception(error)
            span.set_status(Status(StatusCode.ERROR, f"{type(error).__name__}: {error}"))
        span.end()
        self.close(error)

    def close(self, error: BaseException | None = None) -> SpanCounts:
        """Flush and check the run's spans (also for runs stepped with ``astep`` alone)."""
        run = self.run
        if run is None:
            return SpanCounts(0, 0, 0, 0)
        self._rows.hand_over(run)
        try:
            self.last_counts = run.close()
        except TraceStoreError as err:
            if error is None or isinstance(error, TraceStoreError):
                raise
            raise TraceStoreError(str(err)) from error
        except TraceLossError as err:
            if error is None:
                raise
            error.add_note(str(err))
        return self.last_counts or run.counts()

    def retry(self) -> SpanCounts:
        """Write the spans a failed store kept back, and check the counts again."""
        if self.run is None:
            raise TraceStoreError("this session has no traced run to retry")
        self.last_counts = self.run.close()
        return self.last_counts

    @contextmanager
    def round(self, round_: int) -> Iterator[Any]:
        """``session.round`` as the current span: the root of the round's own trace, linked to ``session.run``.

        The session ends it with ``end_round`` just before the round's batch is staged, so the
        round's own span commits with the round's records (a crash right after the commit loses
        nothing); on an error it ends here.
        """
        self._open()
        # each round is a trace of its own, linked to the run's root: a backend opens one round
        # (a few hundred spans) instead of the whole run; the store keeps the run id on every span
        run_id = self.session.run_id
        links = None
        if self._span is not None and self._span.is_recording():
            links = [Link(self._span.get_span_context())]
        span = self._tracer.start_span(
            sc.SPAN_ROUND,
            context=_NEW_TRACE,
            links=links,
            attributes={sc.RUN_ID: run_id, sc.SESSION_ID: run_id, sc.ROUND: round_},
        )
        self._round_span = span
        round_ctx = trace.set_span_in_context(span)
        rows = self._rows
        if (
            span.is_recording()
            and rows.ready
            and self.tracing.router.run_of(span.get_span_context().trace_id) is self.run
        ):
            rows.begin_round(span, round_ctx)
        token = otel_context.attach(round_ctx)
        try:
            yield span
        except BaseException as err:
            if span.is_recording():
                span.record_exception(err)
                span.set_status(Status(StatusCode.ERROR, f"{type(err).__name__}: {err}"))
            raise
        finally:
            otel_context.detach(token)
            self.end_round()
            self._round_span = None
            rows.end_round()

    def end_round(self) -> None:
        """End the current round's span (once), after handing the run the rows made under it."""
        self._rows.hand_over(self.run)
        span = getattr(self, "_round_span", None)
        if span is not None and span.is_recording():
            span.end()

    # --- agent turns ------------------------------------------------------------------
    def _turn_attrs(self, agent: Agent, llm: bool | None = None) -> dict[str, Any]:
        attrs = turn_attrs(agent.id, agent.role, agent.kind, self.session.round)
        if (
            _uses_model(agent) if llm is None else llm
        ):  # GenAI names only where a model is called: LLM backends list these as agents
            attrs.update(
                {
                    sc.GEN_AI_OPERATION: sc.SPAN_AGENT_TURN,
                    sc.GEN_AI_AGENT_NAME: agent.name,
                    sc.GEN_AI_AGENT_ID: agent.id,
                }
            )
        return attrs

    def _carry(self, span: Any, agent: Agent) -> None:
        """Spans started inside this turn (model calls, tools) inherit its agent and round."""
        sid = span.get_span_context().span_id
        self._turns[agent.id] = format(sid, "016x")
        if self.run is not None:
            self.run.carriers[sid] = (agent.id, self.session.round)

    @contextmanager
    def _turn(self, agent: Agent) -> Iterator[Any]:
        """The agent's turn span, current in the block (in this task's own context: asyncio copies it per
        task); an error leaving the block is recorded on it; ended after."""
        # started and made current by hand: cheaper than start_as_current_span's context manager
        name = f"{sc.SPAN_AGENT_TURN} {agent.id}" if _uses_model(agent) else sc.SPAN_AGENT_DECIDE
        span = self._tracer.start_span(name, attributes=self._turn_attrs(agent))
        self._carry(span, agent)
        token = otel_context.attach(trace.set_span_in_context(span))
        try:
            yield span
        except BaseException as err:
            span.record_exception(err)
            span.set_status(Status(StatusCode.ERROR, f"{type(err).__name__}: {err}"))
            raise
        finally:
            otel_context.detach(token)
            span.end()

    def decide(self, agent: Agent, obs: Observation) -> Sequence[Any]:
        """The agent's turn inside its turn span (current while the agent decides)."""
        rows = self._rows
        # a scripted agent (not _uses_model, inlined: a call less a turn) while the round's span is current
        if (
            rows.trace_id
            and not getattr(agent, "uses_model", False)
            and agent.kind != "llm"
            and (current_context() is rows.round_ctx or rows.current())
        ):
            run = self.run
            assert run is not None  # (rows are made only while a round of an open run is current)
            return rows.decide(agent, obs, self.session.round, run.carriers, self._turns)
        with self._turn(agent) as span:
            out = agent.decide(obs)
            span.set_attribute(sc.AGENT_ACTIONS, n_actions(out))
            return out

    async def adecide(self, agent: Agent, obs: Observation, check: DryRun) -> Sequence[Any]:
        """An async turn inside ``invoke_agent``; the agent's own spans (``chat``) nest under it."""
        with self._turn(agent) as span:
            out = await agent.adecide(obs, check)
            span.set_attribute(sc.AGENT_ACTIONS, n_actions(out))
            return out

    def wait(self, agent: Agent, reason: str) -> None:
        """An ``invoke_agent`` span for a round the agent was not called: why, and zero tokens."""
        attrs = {
            **self._turn_attrs(agent),
            sc.AGENT_TURN: "wait",
            sc.AGENT_TURN_REASON: reason,
            sc.AGENT_ACTIONS: 0,
            sc.GEN_AI_INPUT_TOKENS: 0,
            sc.GEN_AI_OUTPUT_TOKENS: 0,
        }
        if self._rows.current():
            now = time_ns()
            self._rows.emit(f"{sc.SPAN_AGENT_TURN} {agent.id}", attrs, now, now)
            return
        self._tracer.start_span(f"{sc.SPAN_AGENT_TURN} {agent.id}", attributes=attrs).end()

    # --- submissions --------------------------------------------------------------------
    def submit_start(self, agent_id: str) -> Any:
        """When the submission began: its span is made at the end, with every attribute at once."""
        return time_ns()

    def submit_end(self, started: Any, record: ActionRecord, action: Any) -> None:
        """The ``protocol.submit`` span of one submitted item, its facts set once; linked to the records."""
        price = field_or_none(action, "price")  # getattr(action, name, None) without pydantic's slow miss
        micros = None
        if isinstance(price, (int, float)) and math.isfinite(price) and abs(price) * 1e6 < _MAX_PRICE_MICROS:
            micros = to_micros(price)
        listing = field_or_none(action, "listing_id")
        tid = record.thread_id
        thread = counterparty = None
        if tid is not None:
            thread = self.session.market.threads.get(tid)
            if thread is not None:
                counterparty = thread.other(record.agent_id)
        rows = self._rows
        if rows.current():
            trace_id, sid = (
                rows.trace_id,
                rows.submit(record, self.session.round, started, micros, listing, counterparty),
            )
        else:
            attrs = submit_attrs(record, self.session.round, micros, listing, counterparty)
            span = self._tracer.start_span(sc.SPAN_SUBMIT, attributes=attrs, start_time=started)
            span.end()
            ctx = span.get_span_context()
            trace_id, sid = ctx.trace_id, format(ctx.span_id, "016x")
        record.span_id = sid
        if thread is not None:
            thread.span_ids.append(sid)
            if thread.id not in self._thread_first:  # the negotiation's first span, for the settlement's link
                self._thread_first[thread.id] = (trace_id, int(sid, 16))

    # --- settlements, policy, control ---------------------------------------------------
    def settle(self, record: DealRecord) -> None:
        """A ``market.settle`` span for a deal, linked to the first span of its negotiation."""
        t = record.thread
        first = self._thread_first.pop(t.id, None)
        links = [Link(SpanContext(first[0], first[1], False, TraceFlags(TraceFlags.SAMPLED)))] if first else None
        attrs: dict[str, AnyValue] = {
            sc.ROUND: record.round,
            sc.TX_ID: record.tx_id,
            sc.THREAD_ID: t.id,
            sc.LISTING_ID: t.listing_id,
            sc.SERVICE: t.service,
            sc.BUYER: t.buyer,
            sc.SELLER: t.seller,
            sc.PRICE: record.price,
            sc.FEE: record.fee,
            sc.DEAL_STATUS: record.status,
        }
        if self._rows.current():
            now = time_ns()
            self._rows.emit(sc.SPAN_SETTLE, attrs, now, now, links=[(first[0], first[1], {})] if first else ())
        else:
            span = self._tracer.start_span(sc.SPAN_SETTLE, attributes=attrs, links=links)
            span.end()
        if first is not None:
            record.trace_id = format(first[0], "032x")

    def policy_change(
        self, round_: int, policy: IncentivePolicy, author: str, reason: str, changed: dict[str, Any]
    ) -> None:
        """A ``policy.change`` span: who changed what, why, from which round."""
        attrs: dict[str, AnyValue] = {
            sc.ROUND: round_,
            sc.POLICY_AUTHOR: author,
            sc.POLICY_REASON: reason,
            sc.POLICY_CHANGES: json.dumps(changed, sort_keys=True, default=str),
            sc.POLICY_JSON: policy.model_dump_json(),
        }
        self._tracer.start_span(sc.SPAN_POLICY, attributes=attrs).end()

    def control(self, kind: str, author: str, outcome: str) -> None:
        """An event on the current round span for a control command the session applied."""
        trace.get_current_span().add_event(
            sc.EVENT_CONTROL, {sc.CONTROL_KIND: kind, sc.CONTROL_AUTHOR: author, sc.CONTROL_OUTCOME: outcome}
        )

    # --- the round's batch --------------------------------------------------------------
    def _same_store(self) -> bool:
        mine, records = self.tracing.store, self.session.recorder.store
        return mine is None or (records is not None and records.url == mine.url)

    def stage(self, log: RoundLog) -> None:
        """Put the spans ended so far into the round's batch (same transaction as its records).

        A turn that failed is recorded as a ``turn_error`` action; it points at its turn's span.
        """
        turns, self._turns = self._turns, {}
        for rec in log.records:
            if rec.span_id is None and rec.action_type == "turn_error":
                rec.span_id = turns.get(rec.agent_id)
        if self.run is not None and self._same_store():
            self.run.stage(log.batch)

    def confirm(self) -> None:
        """The round's batch committed: count its spans as stored (or write them, to a store of their own)."""
        if self.run is None:
            return
        if self._same_store():
            self.run.confirm()
        else:
            self.run.flush()


def session_tracer(session: Session, tracing: bool | Tracing | None) -> NoTracer:
    """The tracer for a session: ``None`` traces when there is a store or an OTLP endpoint."""
    from traces.otel import setup_tracing
    from traces.otlp import otlp_endpoint_from_env

    store = session.recorder.store
    if tracing is None:
        tracing = store is not None or otlp_endpoint_from_env() is not None
    if tracing is False:
        return NoTracer()
    if tracing is True:
        tracing = setup_tracing(store)
    return SessionTracer(session, tracing)
