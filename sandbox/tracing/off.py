"""``NoTracer``: the session's tracer when tracing is off, and the interface the loop calls.

Every call returns at once; the round loop's cost with tracing off is a few method calls per
action (``benchmarks/bench_tracing.py`` prints it).
"""

from __future__ import annotations

from collections.abc import Awaitable, Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from agents.base import Agent, DryRun
    from agents.observation import Observation
    from protocols.policy import IncentivePolicy
    from sandbox.record import ActionRecord, DealRecord, RoundLog
    from traces.otel import RunTrace


class NoTracer:
    """Tracing switched off: every call returns at once."""

    enabled = False
    run: RunTrace | None = None

    def start_run(self) -> None:
        """Nothing to start."""

    def end_run(self, error: BaseException | None = None) -> None:
        """Nothing to end."""

    def round(self, round_: int) -> AbstractContextManager[Any]:
        """No round span."""
        return nullcontext()

    def decide(self, agent: Agent, obs: Observation) -> Sequence[Any]:
        """Call the agent."""
        return agent.decide(obs)

    def adecide(self, agent: Agent, obs: Observation, check: DryRun) -> Awaitable[Sequence[Any]]:
        """Call the agent."""
        return agent.adecide(obs, check)

    def wait(self, agent: Agent, reason: str) -> None:
        """No wait span."""

    def submit_start(self, agent_id: str) -> Any:
        """No submission span."""
        return None

    def submit_end(self, span: Any, record: ActionRecord, action: Any) -> None:
        """Nothing to end."""

    def settle(self, record: DealRecord) -> None:
        """No settlement span."""

    def policy_change(
        self, round_: int, policy: IncentivePolicy, author: str, reason: str, changed: dict[str, Any]
    ) -> None:
        """No policy span."""

    def control(self, kind: str, author: str, outcome: str) -> None:
        """No event."""

    def end_round(self) -> None:
        """Nothing to end without tracing."""

    def stage(self, log: RoundLog) -> None:
        """No spans to stage."""

    def confirm(self) -> None:
        """No spans to confirm."""
