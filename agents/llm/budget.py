"""Budgets and the cap on calls in flight.

A ``Spend`` counts tokens and money (litellm's usage and cost estimate). Each LLM agent has
its own; every agent of a session also shares one ``CallPool``: the session-wide spend and
budget, and the semaphore that caps model calls in flight. Agents never see the session, so
the pool is found by key: the session sets each agent's ``scope`` to its run id, and the key
joins it with the pool name (pass ``pool=`` a name to split agents of one session into
separately capped pools). The session's spend lives as long as the process and follows the run
across ``run()`` calls; the semaphore belongs to the running event loop, as asyncio requires.
"""

from __future__ import annotations

import asyncio
import weakref
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Limits:
    """Spending limits; ``None`` means no limit."""

    tokens: int | None = None
    cost_usd: float | None = None

    def exceeded(self, spend: Spend) -> str | None:
        """Why ``spend`` has crossed these limits, or None."""
        if self.tokens is not None and spend.tokens >= self.tokens:
            return f"token budget of {self.tokens} spent ({spend.tokens} used)"
        if self.cost_usd is not None and spend.cost_usd >= self.cost_usd:
            return f"money budget of ${self.cost_usd:.4f} spent (${spend.cost_usd:.4f} used)"
        return None


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
class CallPool:
    """What the agents of one session share: the in-flight cap and the session budget."""

    max_in_flight: int
    limits: Limits = field(default_factory=Limits)
    spend: Spend = field(default_factory=Spend)
    in_flight: int = 0
    peak_in_flight: int = 0

    def __post_init__(self) -> None:
        self.semaphore = asyncio.Semaphore(self.max_in_flight)

    def enter(self) -> None:
        """Count a call going out (for the peak figure benchmarks print)."""
        self.in_flight += 1
        self.peak_in_flight = max(self.peak_in_flight, self.in_flight)

    def leave(self) -> None:
        """Count a call coming back."""
        self.in_flight -= 1


_POOLS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, CallPool]] = weakref.WeakKeyDictionary()
_SPENDS: dict[str, Spend] = {}


def pool_for(key: str, max_in_flight: int, limits: Limits) -> CallPool:
    """The pool called ``key`` in the running event loop, created by the first agent that asks.

    The first caller fixes the cap and the session budget; later agents share them. The spend
    of ``key`` carries over from earlier event loops (a run stepped through several ``run()``
    calls keeps counting against one budget).
    """
    loop = asyncio.get_running_loop()
    pools = _POOLS.setdefault(loop, {})
    pool = pools.get(key)
    if pool is None:
        spend = _SPENDS.setdefault(key, Spend())
        pool = pools[key] = CallPool(max_in_flight=max(1, int(max_in_flight)), limits=limits, spend=spend)
    return pool


def current_pools() -> dict[str, CallPool]:
    """The pools of the running event loop (for benchmarks and tests)."""
    return dict(_POOLS.get(asyncio.get_running_loop(), {}))
