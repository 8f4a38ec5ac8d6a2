"""Action constraints beyond the skeleton's: spend caps, position limits, price bands,
throttles, market halts, and self-dealing through linked accounts.

Each is a pure function of the action, the market view, the submitter and ``LimitsConfig``
that passes (None) or rejects with a reason the agent can act on.
"""

from __future__ import annotations

from collections.abc import Callable

from pydantic import BaseModel, ConfigDict, Field, field_validator

from protocols.actions import (
    Accept,
    ActionBase,
    Counter,
    Deliver,
    MakeOffer,
    Message,
    PostService,
    Reject,
    ReportOutcome,
    RequestQuote,
    Withdraw,
)
from protocols.money import to_micros
from protocols.state import MarketView
from protocols.trusted import field_or_none
from protocols.verdict import Rule, Verdict

# everything else creates or advances a deal (bilateral moves, orders, posted prices, bids,
# match requests, and any action a new mechanism adds), so a halt stops it
NOT_TRADING = (Message, Deliver, ReportOutcome, Reject, Withdraw)


class LimitsConfig(BaseModel):
    """Settings of the action constraints; ``None`` turns a limit off."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    spend_cap_per_round: float | None = Field(None, gt=0, description="Most money one buyer may commit per round.")
    max_live_threads: int | None = Field(
        8, ge=1, description="Most negotiations (open or accepted) one agent may hold."
    )
    max_open_listings: int | None = Field(
        4, ge=1, description="Most listings with units left that one seller may hold."
    )
    price_band: float | None = Field(
        None, gt=0, description="Share a price may stray from the service's reference price (0.5: +/-50%)."
    )
    owners: dict[str, tuple[str, ...]] = Field(
        default_factory=dict, description="Declared owners and the agent ids they control (linked accounts)."
    )

    @field_validator("owners")
    @classmethod
    def _one_owner_each(cls, owners: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
        seen: dict[str, str] = {}
        for owner, ids in owners.items():
            for aid in ids:
                if aid in seen and seen[aid] != owner:
                    raise ValueError(f"agent '{aid}' is declared under two owners ({seen[aid]} and {owner})")
                seen[aid] = owner
        return owners

    def owner_of(self, agent_id: str) -> str | None:
        """The declared owner of an agent, if any."""
        for owner, ids in self.owners.items():
            if agent_id in ids:
                return owner
        return None


def _service_and_parties(action: ActionBase, view: MarketView, who: str) -> tuple[str | None, str | None, str | None]:
    """(service, buyer, seller) of the deal an action is about, where it is about one."""
    thread_id = field_or_none(action, "thread_id")
    thread = view.thread(thread_id) if thread_id else None
    if thread is not None:
        return thread.service, thread.buyer, thread.seller
    listing_id = field_or_none(action, "listing_id")
    listing = view.listing(listing_id) if listing_id else None
    if listing is not None:
        return listing.service, who, listing.seller
    if isinstance(action, PostService):
        return action.service, None, who
    return field_or_none(action, "service"), None, None  # orders, posted prices, match requests


def check_throttle(action: ActionBase, view: MarketView, who: str, cfg: LimitsConfig) -> Verdict | None:
    """A throttled agent may take only a few actions per round."""
    if view.action_cap_of(who) is None:  # no throttle: the agent's activity is not needed
        return None
    act = view.activity(who)
    if act.action_cap is not None and act.actions >= act.action_cap:
        return Verdict.reject(
            Rule.THROTTLED, f"you are throttled to {act.action_cap} actions per round after repeated violations"
        )
    return None


def check_halt(action: ActionBase, view: MarketView, who: str, cfg: LimitsConfig) -> Verdict | None:
    """No new trading in a service whose price-band breaker has halted it."""
    if isinstance(action, NOT_TRADING):
        return None
    if view.nothing_halted():
        return None
    service, _, _ = _service_and_parties(action, view, who)
    if service is not None and view.is_halted(f"service:{service}"):
        return Verdict.reject(
            Rule.HALTED,
            f"trading in '{service}' is halted after a sharp price move; deliveries and reports still go through",
        )
    return None


def check_halt_trading(action: ActionBase, view: MarketView, who: str, cfg: LimitsConfig) -> Verdict | None:
    """``check_halt`` for an action of a class outside ``NOT_TRADING`` (a fused plan knows the class)."""
    if view.nothing_halted():
        return None
    return check_halt(action, view, who, cfg)


def check_self_dealing(action: ActionBase, view: MarketView, who: str, cfg: LimitsConfig) -> Verdict | None:
    """No deals between accounts that the scenario declares to have the same owner."""
    if not cfg.owners or not isinstance(action, (RequestQuote, MakeOffer, Counter, Accept)):
        return None
    _, buyer, seller = _service_and_parties(action, view, who)
    if buyer is None or seller is None or buyer == seller:
        return None
    owner = cfg.owner_of(buyer)
    if owner is not None and owner == cfg.owner_of(seller):
        return Verdict.reject(
            Rule.SELF_DEALING, f"{buyer} and {seller} are both accounts of {owner}; trade with independent agents"
        )
    return None


def check_positions(action: ActionBase, view: MarketView, who: str, cfg: LimitsConfig) -> Verdict | None:
    """Caps on live negotiations per agent and on open listings per seller."""
    act = view.activity(who)
    opens_thread = isinstance(action, RequestQuote) or (isinstance(action, MakeOffer) and action.listing_id is not None)
    if opens_thread and cfg.max_live_threads is not None and act.live_threads >= cfg.max_live_threads:
        return Verdict.reject(
            Rule.POSITION_LIMIT,
            f"you already hold {act.live_threads} live negotiations; the limit is {cfg.max_live_threads}",
        )
    if (
        isinstance(action, PostService)
        and cfg.max_open_listings is not None
        and act.open_listings >= cfg.max_open_listings
    ):
        return Verdict.reject(
            Rule.POSITION_LIMIT,
            f"you already have {act.open_listings} open listings; the limit is {cfg.max_open_listings}",
        )
    return None


def check_spend_cap(action: ActionBase, view: MarketView, who: str, cfg: LimitsConfig) -> Verdict | None:
    """A buyer may move at most ``spend_cap_per_round`` into escrow per round."""
    if cfg.spend_cap_per_round is None or not isinstance(action, Accept):
        return None
    thread = view.thread(action.thread_id)
    if thread is None or thread.price_micros is None:
        return None
    cap = to_micros(cfg.spend_cap_per_round)
    spent = view.activity(thread.buyer).spent_micros
    if spent + thread.price_micros > cap:
        whose = "you have" if thread.buyer == who else f"the buyer {thread.buyer} has"
        return Verdict.reject(
            Rule.SPEND_CAP,
            f"{whose} committed {spent / 1e6:.2f} this round; this deal would pass the cap of {cap / 1e6:.2f} per round",
        )
    return None


def check_price_band(action: ActionBase, view: MarketView, who: str, cfg: LimitsConfig) -> Verdict | None:
    """Prices must stay within ``price_band`` of the service's recent reference price."""
    if cfg.price_band is None:
        return None
    price = action.ask_price if isinstance(action, PostService) else field_or_none(action, "price")
    if price is None or isinstance(action, Message):
        return None
    service, _, _ = _service_and_parties(action, view, who)
    ref = view.reference_price(service) if service else None
    if ref is None or ref <= 0:
        return None
    lo, hi = ref * (1 - cfg.price_band), ref * (1 + cfg.price_band)
    if not lo <= price <= hi:
        return Verdict.reject(
            Rule.PRICE_BAND,
            f"price {price:g} is outside the band {lo:.2f}-{hi:.2f} around the recent price {ref:.2f} of '{service}'",
        )
    return None


INERT_WHEN: dict[object, Callable[[LimitsConfig], bool]] = {
    # settings under which a check returns None for every action, market and submitter (read off
    # its code; the settings are frozen): a protocol's fused plan leaves it out
    check_price_band: lambda cfg: cfg.price_band is None,
    check_spend_cap: lambda cfg: cfg.spend_cap_per_round is None,
    check_self_dealing: lambda cfg: not cfg.owners,
}

LIMIT_CHECKS = (check_throttle, check_halt, check_self_dealing, check_positions, check_spend_cap, check_price_band)
