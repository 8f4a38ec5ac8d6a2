"""The shapes of market state that the rules read.

``sandbox`` owns and mutates these objects; ``protocols`` only reads them through
``MarketView``. Money is in integer micro-units (see ``protocols.money``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import NamedTuple, Protocol


class ThreadState(StrEnum):
    """Where a negotiation thread stands."""

    QUOTE_REQUESTED = "quote_requested"
    OFFERED = "offered"
    ACCEPTED = "accepted"
    DELIVERED = "delivered"
    SETTLED = "settled"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"
    EXPIRED = "expired"


OPEN_STATES = frozenset({ThreadState.QUOTE_REQUESTED, ThreadState.OFFERED})
LIVE_STATES = frozenset({ThreadState.QUOTE_REQUESTED, ThreadState.OFFERED, ThreadState.ACCEPTED, ThreadState.DELIVERED})


@dataclass(slots=True)
class Listing:
    """A service on offer: who sells it, what it is, at what ask and for how many units."""

    id: str
    seller: str
    service: str
    description: str
    ask_micros: int
    capacity: int
    reserved: int = 0  # units committed to accepted threads (delivered or not)
    posted_round: int = 0

    @property
    def remaining(self) -> int:
        """Units still available to new deals."""
        return self.capacity - self.reserved


@dataclass(slots=True)
class Thread:
    """One bilateral negotiation about one unit of one listing."""

    id: str
    listing_id: str
    buyer: str
    seller: str
    service: str
    state: ThreadState
    opened_round: int
    last_move_round: int
    price_micros: int | None = None  # the standing offer
    proposer: str | None = None  # who made the standing offer
    escrow_micros: int = 0
    accepted_round: int | None = None
    delivered_round: int | None = None
    quality: float | None = None
    score: float | None = None
    moves: int = 0
    span_ids: list[str] = field(default_factory=list)

    def other(self, agent: str) -> str:
        """The other side of the thread from ``agent``."""
        return self.seller if agent == self.buyer else self.buyer


@dataclass(frozen=True, slots=True)
class Profile:
    """What the rules may know about an agent: its role and private values or costs."""

    role: str
    values: dict[str, float] = field(default_factory=dict)
    costs: dict[str, float] = field(default_factory=dict)

    @property
    def services(self) -> frozenset[str]:
        """Services the agent buys or sells."""
        return frozenset(self.values) | frozenset(self.costs)

    @property
    def private_numbers(self) -> tuple[float, ...]:
        """Every private number of the agent (its values and costs)."""
        return (*self.values.values(), *self.costs.values())


class Activity(NamedTuple):
    """An agent's activity in the current round, and the limits in force on it now.

    A named tuple rather than a dataclass: the checks read it for every action.
    """

    actions: int = 0  # accepted actions this round
    messages: int = 0  # accepted messages this round
    spent_micros: int = 0  # money the agent moved into escrow this round
    live_threads: int = 0
    open_listings: int = 0
    action_cap: int | None = None  # a throttle in force (None: only the market's cap)


class MarketView(Protocol):
    """Read-only access to the market that the rules check actions against."""

    round: int

    def is_agent(self, agent_id: str) -> bool:
        """Whether ``agent_id`` is a registered agent."""
        ...

    def is_suspended(self, agent_id: str) -> bool:
        """Whether the agent may not act now (breaker open, suspended or banned)."""
        ...

    def available_micros(self, agent_id: str) -> int:
        """Money the agent can commit now: its balance (escrowed money has already left it)."""
        ...

    def listing(self, listing_id: str) -> Listing | None:
        """The listing with this id, if any."""
        ...

    def thread(self, thread_id: str) -> Thread | None:
        """The thread with this id, if any."""
        ...

    def unlisted_capacity(self, agent_id: str) -> int:
        """Units the agent may still put on new listings (0 for agents that do not sell)."""
        ...

    def profile(self, agent_id: str) -> Profile | None:
        """The agent's role and private numbers (for the leak and competitor rules)."""
        ...

    def activity(self, agent_id: str) -> Activity:
        """The agent's activity this round and any throttle on it."""
        ...

    def reference_price(self, service: str) -> float | None:
        """The recent reference price of a service (median of recent deals), if any."""
        ...

    def is_halted(self, scope: str) -> bool:
        """Whether trading in a scope is halted by a market-wide breaker.

        Scopes are ``service:<name>`` for a service and ``messages`` for all messaging.
        """
        ...

    def nothing_halted(self) -> bool:
        """Whether no scope is halted (``is_halted`` is then False for every scope): the halt check's quick answer."""
        ...

    def action_cap_of(self, agent_id: str) -> int | None:
        """The throttle on an agent now, ``activity(agent_id).action_cap`` without the rest: the throttle
        check's quick answer."""
        ...
