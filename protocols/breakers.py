"""Circuit breakers: explicit closed / open / half-open state machines, clocked in rounds.

A ``CircuitBreaker`` is an immutable value; ``step`` feeds it one round's count of bad
events (violations, model errors, money spent, messages, a price move) and returns the new
breaker and the transition, if any. Closed: events are counted over a sliding window (or as
a run of consecutive bad rounds) and reaching the threshold opens it. Open: the guarded
party may not act until the cool-down has passed; then it goes half-open. Half-open: a
probation of ``probe_rounds``; one bad round re-opens it with a doubled cool-down, a quiet
probation closes it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class BreakerState(StrEnum):
    """Where a breaker stands."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class BreakerConfig(BaseModel):
    """When a breaker trips and how long it stays open."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    threshold: float = Field(gt=0, description="Events in the window (or bad rounds in a row) that trip it.")
    window: int = Field(3, ge=1, description="Rounds the events are counted over.")
    consecutive: bool = Field(False, description="Count bad rounds in a row instead of events in the window.")
    cooldown: int = Field(3, ge=1, description="Rounds the breaker stays open before probation.")
    probe_rounds: int = Field(2, ge=1, description="Quiet rounds on probation (half-open) before it closes.")
    max_cooldown: int = Field(48, ge=1, description="Cap on the cool-down as repeated trips double it.")


@dataclass(frozen=True, slots=True)
class Transition:
    """A breaker changing state: from, to, the round, and why."""

    breaker: str
    subject: str
    before: BreakerState
    after: BreakerState
    round: int
    reason: str


@dataclass(frozen=True, slots=True)
class CircuitBreaker:
    """One breaker guarding one subject (an agent, a service, the market or the session)."""

    name: str
    subject: str
    state: BreakerState = BreakerState.CLOSED
    history: tuple[tuple[int, float], ...] = ()  # (round, events) within the window
    streak: int = 0  # bad rounds in a row
    opened_round: int | None = None
    cooldown: int = 0  # the cool-down of the current opening
    probe_started: int | None = None
    trips: int = 0

    @property
    def blocks(self) -> bool:
        """Whether the subject is blocked now (only while open)."""
        return self.state is BreakerState.OPEN


def _open(
    b: CircuitBreaker, cfg: BreakerConfig, round_: int, cooldown: int, reason: str
) -> tuple[CircuitBreaker, Transition]:
    nb = replace(
        b,
        state=BreakerState.OPEN,
        opened_round=round_,
        cooldown=min(cooldown, cfg.max_cooldown),
        probe_started=None,
        history=(),
        streak=0,
        trips=b.trips + 1,
    )
    return nb, Transition(b.name, b.subject, b.state, BreakerState.OPEN, round_, reason)


def step(
    b: CircuitBreaker, cfg: BreakerConfig, round_: int, events: float, what: str = "events"
) -> tuple[CircuitBreaker, Transition | None]:
    """Feed the breaker one round's count of bad events; return it updated and any transition."""
    if b.state is BreakerState.CLOSED and events <= 0 and not b.history and not b.streak:
        return b, None  # the common case: nothing happened to a quiet breaker
    if b.state is BreakerState.OPEN:
        assert b.opened_round is not None
        if round_ - b.opened_round >= b.cooldown:
            nb = replace(b, state=BreakerState.HALF_OPEN, probe_started=round_)
            return nb, Transition(
                b.name, b.subject, b.state, nb.state, round_, f"cool-down of {b.cooldown} rounds over; on probation"
            )
        return b, None
    if b.state is BreakerState.HALF_OPEN:
        assert b.probe_started is not None
        if events > 0:
            return _open(
                b,
                cfg,
                round_,
                b.cooldown * 2,
                f"{events:g} {what} on probation; open again for {min(b.cooldown * 2, cfg.max_cooldown)} rounds",
            )
        if round_ - b.probe_started + 1 >= cfg.probe_rounds:
            nb = replace(b, state=BreakerState.CLOSED, probe_started=None, opened_round=None)
            return nb, Transition(
                b.name, b.subject, b.state, nb.state, round_, f"{cfg.probe_rounds} quiet rounds on probation"
            )
        return b, None
    history = tuple((r, n) for r, n in b.history if r > round_ - cfg.window) + ((round_, events),)
    streak = b.streak + 1 if events > 0 else 0
    b = replace(b, history=history, streak=streak)
    if cfg.consecutive:
        if streak >= cfg.threshold:
            return _open(b, cfg, round_, cfg.cooldown, f"{streak} rounds in a row with {what}")
        return b, None
    total = sum(n for _, n in history)
    if total >= cfg.threshold:
        return _open(b, cfg, round_, cfg.cooldown, f"{total:g} {what} in {cfg.window} rounds (limit {cfg.threshold:g})")
    return b, None


def trip(
    b: CircuitBreaker, cfg: BreakerConfig, round_: int, reason: str, cooldown: int | None = None
) -> tuple[CircuitBreaker, Transition]:
    """Open a breaker by decision (an intervention), whatever its state."""
    return _open(b, cfg, round_, cooldown if cooldown is not None else cfg.cooldown, reason)


class BreakersConfig(BaseModel):
    """Every breaker of the safety layer; ``None`` switches one off."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    violations: BreakerConfig | None = Field(
        default_factory=lambda: BreakerConfig(threshold=6, window=3, cooldown=3),
        description="Per agent: rejected actions by the conduct rules.",
    )
    model_errors: BreakerConfig | None = Field(
        default_factory=lambda: BreakerConfig(threshold=3, consecutive=True, cooldown=2),
        description="Per agent: rounds in a row whose turn failed.",
    )
    spend_rate: BreakerConfig | None = Field(
        None, description="Per agent: money committed (currency units) in the window."
    )
    price_band: BreakerConfig | None = Field(
        None,
        description="Per service: a large price move halts new trading (off by default: set it to the market's noise).",
    )
    price_move: float = Field(0.5, gt=0, description="Share the price may move within price_window before a halt.")
    price_window: int = Field(5, ge=1, description="Rounds over which the price move is measured.")
    price_min_trades: int = Field(3, ge=1, description="Trades needed in the window before the band applies.")
    message_storm: BreakerConfig | None = Field(
        default_factory=lambda: BreakerConfig(threshold=1, window=1, cooldown=2, probe_rounds=1),
        description="Market-wide: messages attempted in a round above storm_messages halt messaging.",
    )
    storm_messages: int = Field(60, ge=1, description="Messages attempted in one round that count as a storm.")
    token_budget: int | None = Field(None, ge=1, description="Session: LLM tokens allowed for the whole run.")
    money_budget: float | None = Field(None, gt=0, description="Session: model spend (USD) allowed for the whole run.")
