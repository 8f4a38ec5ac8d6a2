"""Budgets and the cap on calls in flight.

A ``Spend`` counts tokens and money (litellm's usage and cost estimate). Each LLM agent has
its own; the agents of a session also share a ``CallPool``: the session-wide spend and budget,
and the semaphore that caps model calls in flight. The session owns the pools: it hands every
agent the same ``shared`` dict and the pools live in it (``pool_in``), keyed by pool name and
cap (pass ``pool=`` a name to split agents of one session into separately capped pools). The
spend follows the run across ``run()`` calls; the semaphore is made in the running event loop,
as asyncio requires. Nothing here is process-global.

Admission against the session budget is deterministic. A turn asks to be admitted at its start,
before it awaits anything (``CallPool.admit``); the turns that start together (a round's
``gather``) are decided together, once all have asked, in a seeded order, each reserving an
estimate of its usage (the agent's previous turn, else the mean turn so far): a turn is admitted
while the settled spend plus the reservations before it are under the budget. Real usage settles
as calls answer, and the next round's decisions start from it. So who is refused depends on the
seed and the record, never on which call finished first, and a replay refuses the same turns.

Admitted turns also start in that seeded order, at most ``2 x max_in_flight`` at a time (the
turn gate, ``CallPool.turn_done`` frees a place): with 1,000 turns and a cap of 64, the first
turns build their prompts and send their calls at once instead of every turn preparing before
the first call goes out, and a prepared turn is always waiting when a place under the cap frees.
The cap's own queue (``place``) is first come, first served.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Limits:
    """Spending limits; ``None`` means no limit."""

    tokens: int | None = None
    cost_usd: float | None = None

    def exceeded(self, spend: Spend) -> str | None:
        """Why ``spend`` has crossed these limits, or None."""
        return self.over(spend.tokens, spend.cost_usd)

    def over(self, tokens: int, cost_usd: float, reserved: str = "") -> str | None:
        """Why ``tokens`` / ``cost_usd`` (used, plus ``reserved`` for turns before) cross these limits."""
        if self.tokens is not None and tokens >= self.tokens:
            return f"token budget of {self.tokens} spent ({tokens} used{reserved})"
        if self.cost_usd is not None and cost_usd >= self.cost_usd:
            return f"money budget of ${self.cost_usd:.4f} spent (${cost_usd:.4f} used{reserved})"
        return None

    @property
    def unlimited(self) -> bool:
        """True when there is nothing to check."""
        return self.tokens is None and self.cost_usd is None


@dataclass
class Spend:
    """Tokens and money used so far, and how many calls were sent."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    calls: int = 0

    @property
    def tokens(self) -> int:
        """Prompt plus completion tokens."""
        return self.prompt_tokens + self.completion_tokens

    def add(self, prompt_tokens: int, completion_tokens: int, cost_usd: float) -> None:
        """Count one answered call."""
        self.prompt_tokens += prompt_tokens
        self.completion_tokens += completion_tokens
        self.cost_usd += cost_usd
        self.calls += 1


@dataclass
class _Ask:
    order: float
    agent_id: str
    tokens: int
    cost_usd: float
    answer: asyncio.Future[str | None]


class CallPool:
    """What the agents of one session share: the in-flight cap and the session budget."""

    def __init__(self, max_in_flight: int, limits: Limits | None = None) -> None:
        self.max_in_flight = max(1, int(max_in_flight))
        self.limits = limits or Limits()
        self.spend = Spend()
        self.in_flight = 0
        self.peak_in_flight = 0
        self._waiting_place = 0
        self.turns = 0  # turns admitted so far (the mean turn is the estimate for an agent's first)
        self.refused = 0
        self._asks: list[_Ask] = []
        self.max_turns = 2 * self.max_in_flight  # turns started and not done, at most (the turn gate)
        self.turns_running = 0
        self._gate: deque[asyncio.Future[str | None]] = deque()  # admitted turns waiting to start, in order
        self._gate_loop: asyncio.AbstractEventLoop | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._semaphore: asyncio.Semaphore | None = None
        self._clients: dict[tuple[str, ...], Any] = {}  # model clients of the running loop (model_call.gated_client)
        self._clients_loop: asyncio.AbstractEventLoop | None = None
        self._closer: AsyncIterator[None] | None = None

    @property
    def semaphore(self) -> asyncio.Semaphore:
        """The cap on calls in flight, made in (and for) the running event loop."""
        loop = asyncio.get_running_loop()
        if self._semaphore is None or self._loop is not loop:
            self._loop, self._semaphore = loop, asyncio.Semaphore(self.max_in_flight)
        return self._semaphore

    async def client(self, key: tuple[str, ...], make: Any) -> Any:
        """The client ``make()`` builds for ``key``, one per running event loop (a connection pool is the loop's).

        The loop's clients are closed when it shuts down its async generators (``asyncio.run`` and
        ``sandbox.loop`` do): an async generator started in the loop holds them and closes them
        in its ``finally``. A run leaves no connection open behind it.
        """
        loop = asyncio.get_running_loop()
        if self._clients_loop is not loop:
            self._clients_loop, self._clients = loop, {}
            self._closer = _close_at_shutdown(self._clients)
            await self._closer.__anext__()  # started in this loop: the loop's shutdown closes it
        got = self._clients.get(key)
        if got is None:
            got = self._clients[key] = make()
        return got

    @property
    def waiting(self) -> int:
        """Calls waiting: for a place under the cap, or (not yet prepared) for their turn to start (progress reads it)."""
        return self._waiting_place + len(self._gate)

    def estimate(self, last_tokens: int | None, last_cost: float | None) -> tuple[int, float]:
        """What a turn reserves: the agent's previous turn, else the mean admitted turn so far, else 0."""
        if last_tokens is not None and last_cost is not None:
            return last_tokens, last_cost
        if self.turns:
            return self.spend.tokens // self.turns, self.spend.cost_usd / self.turns
        return 0, 0.0

    def admit(self, order: float, agent_id: str, tokens: int, cost_usd: float) -> asyncio.Future[str | None]:
        """Ask to start a turn; the future gives None when the turn may start, or why the session budget refuses it.

        Call it before the turn awaits anything: every turn the round started asks before the
        decision runs (it is scheduled behind them), and they are decided in ``(order, agent_id)``
        order, not in the order they asked. Admitted turns start in that order, at most
        ``max_turns`` at a time: a turn that got None must call ``turn_done`` when it ends.
        """
        loop = asyncio.get_running_loop()
        if loop is not self._gate_loop:  # a new run's loop: nothing of an earlier (perhaps interrupted) loop waits
            self._gate_loop, self._gate, self.turns_running, self._asks = loop, deque(), 0, []
        answer: asyncio.Future[str | None] = loop.create_future()
        if not self._asks:
            loop.call_soon(self._decide)
        self._asks.append(_Ask(order, agent_id, tokens, cost_usd, answer))
        return answer

    def _decide(self) -> None:
        asks, self._asks = sorted(self._asks, key=lambda a: (a.order, a.agent_id)), []
        tokens, cost = self.spend.tokens, self.spend.cost_usd
        reserved = 0
        unlimited = self.limits.unlimited
        for ask in asks:
            reason = None
            if not unlimited:
                note = f" and {reserved} reserved by turns admitted before this one" if reserved else ""
                reason = self.limits.over(tokens, cost, note)
            if reason is None:
                self.turns += 1
                tokens, cost, reserved = tokens + ask.tokens, cost + ask.cost_usd, reserved + ask.tokens
                self._gate.append(ask.answer)  # started below, in this order, as places allow
            else:
                self.refused += 1
                if not ask.answer.done():  # a cancelled turn no longer waits
                    ask.answer.set_result(reason)
        self._start_turns()

    def _start_turns(self) -> None:
        while self._gate and self.turns_running < self.max_turns:
            answer = self._gate.popleft()
            if not answer.done():  # a cancelled turn no longer waits
                self.turns_running += 1
                answer.set_result(None)

    def turn_done(self) -> None:
        """An admitted turn ended: the next admitted turn may start."""
        self.turns_running -= 1
        self._start_turns()

    def enter(self) -> None:
        """Count a call going out (for the peak figure benchmarks print)."""
        self.in_flight += 1
        self.peak_in_flight = max(self.peak_in_flight, self.in_flight)

    def leave(self) -> None:
        """Count a call coming back."""
        self.in_flight -= 1

    @asynccontextmanager
    async def place(self) -> AsyncIterator[None]:
        """A place under the cap on calls in flight, counting the calls that wait for one."""
        self._waiting_place += 1
        try:
            await self.semaphore.acquire()
        finally:
            self._waiting_place -= 1
        try:
            yield
        finally:
            self.semaphore.release()


async def _close_at_shutdown(clients: dict[tuple[str, ...], Any]) -> AsyncIterator[None]:
    """Wait for the loop's shutdown (``shutdown_asyncgens`` closes this generator), then close ``clients``."""
    try:
        yield
    finally:
        for c in list(clients.values()):
            try:
                await c.close()
            except Exception:  # noqa: BLE001  (closing is best effort: the run is over)
                pass


POOLS = "llm_call_pools"  # the key of the pools in a session's shared dict


def pool_in(shared: dict[str, Any], key: str, max_in_flight: int, limits: Limits) -> CallPool:
    """The pool called ``key`` among the session's ``shared`` things, made by the first agent that asks.

    The first caller fixes the cap and the session budget; later agents share them.
    """
    pools: dict[str, CallPool] = shared.setdefault(POOLS, {})
    pool = pools.get(key)
    if pool is None:
        pool = pools[key] = CallPool(max_in_flight, limits)
    return pool


def pools_of(shared: dict[str, Any]) -> dict[str, CallPool]:
    """The call pools of a session (for benchmarks and tests): ``pools_of(session.shared)``."""
    return dict(shared.get(POOLS, {}))
