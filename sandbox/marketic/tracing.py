"""Spans of a marketic run, in the same tree and store as a session's.

``session.run`` > ``session.round`` (one per episode) > ``market.auction`` (one per step:
the state, the winner, the price, the top two bids, the seller, the action and the reward).
An auction span is recorded when its step has cleared and paid, so its duration says
nothing. Spans go through ``traces.otel`` like every run's: staged into each episode's
batch and counted at the end, so a lost span fails the run loudly. Only the
``opentelemetry.trace`` API is used here.
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Status, StatusCode
from opentelemetry.util.types import AnyValue

from protocols import semconv as sc
from sandbox.marketic.run import MarketicConfig, StepRecord
from sandbox.tracing import SCOPE
from traces.otel import RunTrace, Tracing
from traces.store import RoundBatch


class MarketicTracer:
    """Tracing of one marketic run (``tracing`` None: every call does nothing)."""

    def __init__(self, tracing: Tracing | None, run_id: str, config: MarketicConfig, label: Any = str) -> None:
        self.tracing = tracing
        self.run_id = run_id
        self.config = config
        self.label = label
        self.run: RunTrace | None = None
        self._tracer = trace.get_tracer(SCOPE)
        self._root: Any = None
        self._token: Any = None
        self._episode = 0

    @property
    def enabled(self) -> bool:
        """Whether spans are recorded."""
        return self.tracing is not None

    def start(self) -> None:
        """Open the run's span buffer and make ``session.run`` the current span."""
        if self.tracing is None:
            return
        self.run = self.tracing.open_run(self.run_id)
        self._tracer = trace.get_tracer(SCOPE)
        attrs: dict[str, AnyValue] = {
            sc.RUN_ID: self.run_id,
            sc.SCENARIO: self.config.scenario,
            sc.SEED: self.config.seed,
        }
        self._root = self._tracer.start_span(sc.SPAN_SESSION, attributes=attrs)
        self._token = otel_context.attach(trace.set_span_in_context(self._root))

    def episode(self, episode: int) -> AbstractContextManager[Any]:
        """``session.round`` for one episode, as the current span."""
        self._episode = episode
        if self.tracing is None:
            return nullcontext()
        return self._tracer.start_as_current_span(sc.SPAN_ROUND, attributes={sc.RUN_ID: self.run_id, sc.ROUND: episode})

    def step(self, step: StepRecord, seller: str | None) -> None:
        """One ``market.auction`` span for a cleared and paid step."""
        if self.tracing is None:
            return
        attrs = {
            sc.RUN_ID: self.run_id,
            sc.ROUND: self._episode,
            sc.MARKETIC_STATE: self.label(step.state),
            sc.BUYER: step.winner,
            sc.SELLER: seller or "world",
            sc.PRICE: step.price,
            sc.AUCTION_FIRST: step.result.first,
            sc.AUCTION_SECOND: step.result.second,
            sc.AUCTION_BIDS: len(step.result.ranking),
            sc.MARKETIC_ACTION: step.action,
            sc.MARKETIC_REWARD: step.reward,
        }
        self._tracer.start_span(sc.SPAN_AUCTION, attributes=attrs).end()

    def stage(self, batch: RoundBatch) -> None:
        """Put the spans ended so far into the episode's batch."""
        if self.run is not None:
            self.run.stage(batch)

    def confirm(self) -> None:
        """The episode's batch is committed: its spans are stored."""
        if self.run is not None:
            self.run.confirm()

    def end(self, error: BaseException | None = None) -> None:
        """End ``session.run``, flush and check the span counts (raises on a loss when the run itself did not fail)."""
        if self._root is None or self.run is None:
            return
        otel_context.detach(self._token)
        self._root.set_attribute(sc.RUN_STATUS, "failed" if error else "ok")
        if error is not None:
            self._root.set_status(Status(StatusCode.ERROR, f"{type(error).__name__}: {error}"))
        self._root.end()
        self._root = None
        try:
            self.run.close()
        except Exception:
            if error is None:
                raise
