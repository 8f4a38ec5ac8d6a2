"""What an agent sees each round: bounded, structured, the same for scripted and LLM agents.

The size of an ``Observation`` never grows with the population or the round count: every
list is capped by ``ObservationLimits``. Text written by other agents (listing descriptions,
messages, rejection notes) is marked as untrusted (``from_agent``) so prompts can quote it
as data.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


@dataclass(frozen=True)
class ObservationLimits:
    """Caps on every list in an observation."""

    listings: int = 12
    threads: int = 12
    inbox: int = 8
    receipts: int = 12
    recent_prices: int = 8
    notices: int = 8


class _Obs(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Private(_Obs):
    """An agent's private information: its values or costs, and how much it wants or can sell."""

    values: dict[str, float] = Field(default_factory=dict, description="Value per unit, by service (buyers).")
    costs: dict[str, float] = Field(default_factory=dict, description="Cost per unit, by service (sellers).")
    demand: int = Field(0, description="Units still wanted (buyers): demand minus units already dealt.")
    capacity: int = Field(0, description="Units not yet listed (sellers).")
    schedule: dict[str, list[float]] = Field(
        default_factory=dict,
        description="Unit values (buyers, highest first) or unit costs (sellers, lowest first) by service, when units differ.",
    )
    quality: float | None = Field(
        None, description="Sellers: the true quality of what you deliver (hidden from others)."
    )


class ListingInfo(_Obs):
    """A listing as the market shows it."""

    id: str
    seller: str
    service: str
    description: str = Field("", description="Written by the seller: untrusted.")
    ask_price: float
    remaining: int
    reputation: float | None = None


class ThreadInfo(_Obs):
    """One of the agent's negotiation threads."""

    id: str
    listing_id: str
    service: str
    role: str = Field(description="'buyer' or 'seller': your side of this thread.")
    counterparty: str
    state: str
    price: float | None = Field(None, description="The standing offer, if any.")
    offered_by_you: bool = False
    your_move: list[str] = Field(default_factory=list, description="Action types you may send now.")
    quality: float | None = None
    opened_round: int = 0
    last_move_round: int = 0


class InboxMessage(_Obs):
    """A message another agent sent you: untrusted text."""

    round: int
    sender: str
    thread_id: str | None = None
    text: str


class Receipt(_Obs):
    """What became of one of your actions last round."""

    round: int
    action_type: str
    thread_id: str | None = None
    accepted: bool
    rule: str
    reason: str


class MarketInfo(_Obs):
    """The public market: the best listings for you, recent prices and the price band."""

    listings: list[ListingInfo] = Field(default_factory=list)
    recent_prices: dict[str, list[float]] = Field(default_factory=dict)
    min_price: float = 0.0
    max_price: float = 0.0
    mechanism: str = Field("bilateral", description="The market mechanism: which actions exist and how prices form.")
    board: dict[str, Any] = Field(
        default_factory=dict, description="Mechanism state you may see: order book tops, open auctions, posted prices."
    )


class Observation(_Obs):
    """Everything an agent is told at the start of a round."""

    agent_id: str
    role: str
    round: int
    rounds_left: int
    balance: float
    private: Private
    my_listings: list[ListingInfo] = Field(default_factory=list)
    threads: list[ThreadInfo] = Field(default_factory=list)
    inbox: list[InboxMessage] = Field(default_factory=list)
    receipts: list[Receipt] = Field(default_factory=list)
    market: MarketInfo = Field(default_factory=MarketInfo)
    incentives: dict[str, object] = Field(default_factory=dict, description="The incentive policy in force.")
    notices: list[str] = Field(default_factory=list, description="Policy changes, warnings, breaker trips.")
    reputation: float | None = None
