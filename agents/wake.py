"""When an agent gets a turn: every round, or only when something that can matter to it happened.

An agent declares a ``WakeRule``. With ``every_round`` (the default of scripted agents) it is
asked every round, as before. Otherwise (the default of LLM agents) the session asks it only
when its observation shows an event addressed to it or a change it watches, and records a
wait with the reason otherwise. The decision is a few comparisons on the observation and a
small ``WakeState`` the agent keeps; it never calls a model. It depends only on the
observations, so the same seed and record give the same turns.

Events (they wake an agent in a round and in the sub-steps of a round):
- a message in its inbox, a notice (policy change, fine, warning);
- one of its actions rejected when it was applied;
- a thread awaiting its move that it has not been shown in that state and at that price;
- a thread of its own that ended while it was the other side's move (rejected, withdrawn, expired).

Changes it watches (they wake it at the start of a round only):
- its first turn (for a buyer of the bilateral market: once there is a listing to act on, since
  every buyer move needs one); the incentives in force;
- a price it watches moving by more than ``price_move`` (relative) since its last turn: buyers
  with demand watch the best ask of each service they value (a first listing counts), sellers
  the best competing ask of each service they sell; numbers on the mechanism's board likewise;
- the heartbeat: ``heartbeat`` rounds since its last turn.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from agents.observation import Observation

PASSIVE_MOVES = frozenset({"withdraw", "message"})  # moves open on a thread that is not awaiting you


@dataclass(frozen=True)
class WakeRule:
    """An agent's declaration of when it wants a turn (see the module docstring)."""

    every_round: bool = False
    heartbeat: int = 0  # a turn at least every this many rounds when nothing happened (0: never)
    price_move: float = 0.1  # relative move of a watched price that wakes the agent


EVERY_ROUND = WakeRule(every_round=True)


def wake_rule(value: Any, default: WakeRule) -> WakeRule:
    """A rule from an agent parameter: a ``WakeRule``, ``"every_round"``, ``"on_event"`` or a dict of fields."""
    if value is None:
        return default
    if isinstance(value, WakeRule):
        return value
    if value == "every_round":
        return EVERY_ROUND
    if value == "on_event":
        return WakeRule(heartbeat=default.heartbeat, price_move=default.price_move)
    if isinstance(value, Mapping):
        return WakeRule(**{**default.__dict__, **dict(value)})
    raise ValueError(f"wake must be 'every_round', 'on_event' or a dict of WakeRule fields, got {value!r}")


@dataclass
class WakeState:
    """What the wake decision remembers about one agent: updated at every observation."""

    last_turn: int | None = None  # round of the last turn
    shown: set[tuple[str, str, float | None]] = field(default_factory=set)  # awaiting threads seen at a turn
    threads: dict[str, bool] = field(default_factory=dict)  # thread id -> was it awaiting us, last observation
    prices: dict[str, float] = field(default_factory=dict)  # watched prices at the last turn
    incentives: Mapping[str, object] | None = None


def _awaiting(moves: list[str]) -> bool:
    return any(m not in PASSIVE_MOVES for m in moves)


def _board_numbers(value: Any, path: str) -> Iterator[tuple[str, float]]:
    if isinstance(value, bool) or value is None:
        return
    if isinstance(value, (int, float)):
        yield path, float(value)
    elif isinstance(value, Mapping):
        for k in sorted(value, key=str):
            yield from _board_numbers(value[k], f"{path}/{k}")
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value[:16]):  # a board's head is what matters; bounded work
            yield from _board_numbers(v, f"{path}/{i}")


def watched_prices(obs: Observation) -> dict[str, float]:
    """The prices an agent watches in ``obs``: best asks (buyers with demand, or sellers' rivals) and the board."""
    out: dict[str, float] = {}
    if obs.private.values and obs.private.demand > 0:
        for li in obs.market.listings:
            if li.service in obs.private.values and li.seller != obs.agent_id:
                key = f"ask/{li.service}"
                out[key] = min(out.get(key, math.inf), li.ask_price)
    if obs.private.costs:
        for li in obs.market.listings:
            if li.service in obs.private.costs and li.seller != obs.agent_id:
                key = f"rival/{li.service}"
                out[key] = min(out.get(key, math.inf), li.ask_price)
    out.update(_board_numbers(obs.market.board, "board"))
    return out


def _price_moved(old: Mapping[str, float], new: Mapping[str, float], rel: float) -> str | None:
    for key, price in new.items():
        before = old.get(key)
        if before is None:
            if not key.startswith("rival/"):  # a first listing matters to a buyer, not to a seller's rivals
                return f"{key} appeared at {price:g}"
        elif abs(price - before) > rel * max(abs(before), 1e-9):
            return f"{key} moved {before:g} -> {price:g}"
    return None  # a price that is gone (no listing left) offers nothing to act on


def _nothing_to_act_on(obs: Observation) -> bool:
    """A buyer of the bilateral market before any listing: every move it has needs a listing or a thread."""
    return (
        obs.market.mechanism == "bilateral"
        and not obs.private.costs
        and not obs.market.listings
        and not obs.threads
        and not obs.market.board
    )


def _events(state: WakeState, obs: Observation) -> str | None:
    if obs.inbox:
        return f"message from {obs.inbox[-1].sender}"
    if obs.notices:
        return "notice: " + obs.notices[-1][:80]
    for r in obs.receipts:
        if not r.accepted:
            return f"your {r.action_type} was rejected ({r.rule})"
    for t in obs.threads:
        if _awaiting(t.your_move) and (t.id, t.state, t.price) not in state.shown:
            return f"thread {t.id} awaits your {'/'.join(m for m in t.your_move if m not in PASSIVE_MOVES)}"
    now = {t.id for t in obs.threads}
    for tid, was_awaiting in state.threads.items():
        if tid not in now and not was_awaiting:
            return f"thread {tid} ended"
    return None


def wake_reason(rule: WakeRule, state: WakeState, obs: Observation, *, substep: bool = False) -> tuple[bool, str]:
    """Whether the agent takes a turn on ``obs``, and why (or why it waits); updates ``state``.

    In a sub-step only events count (the agent was addressed); at a round's start the rule's
    watched changes and heartbeat count too.
    """
    reason = _events(state, obs)
    prices: dict[str, float] | None = None
    if reason is None and not substep:
        if state.last_turn is None:
            reason = "first turn" if rule.every_round or not _nothing_to_act_on(obs) else None
        elif rule.every_round:
            reason = "every round"
        elif state.incentives != obs.incentives:
            reason = "the incentives changed"
        else:
            prices = watched_prices(obs)
            reason = _price_moved(state.prices, prices, rule.price_move)
            if reason is None and rule.heartbeat > 0 and obs.round - state.last_turn >= rule.heartbeat:
                reason = f"heartbeat: {obs.round - state.last_turn} rounds since the last turn"
            for key, price in prices.items():  # a seller's first sight of a rival's ask is its reference
                state.prices.setdefault(key, price)
    state.threads = {t.id: _awaiting(t.your_move) for t in obs.threads}
    if reason is None:
        since = "never" if state.last_turn is None else f"round {state.last_turn}"
        return False, f"nothing new since {since}"
    state.shown = {(t.id, t.state, t.price) for t in obs.threads if _awaiting(t.your_move)}
    if not substep:
        state.last_turn = obs.round
        state.incentives = obs.incentives
        state.prices = prices if prices is not None else watched_prices(obs)
    return True, reason
