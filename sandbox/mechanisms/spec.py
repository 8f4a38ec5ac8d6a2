"""The ``mechanism:`` section of a scenario file: which market runs, and its settings.

One pydantic model per built-in mechanism, chosen by ``kind`` among the registered
mechanisms (``sandbox.mechanisms.registry``); ``build_market`` turns it into the live
market. Leaving the section out gives the bilateral negotiation market.
"""

from __future__ import annotations

from typing import Literal, Union

from pydantic import BaseModel, ConfigDict, Field, field_validator


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid")


class BilateralSpec(_Spec):
    """Bilateral negotiation: listings, quote requests, offers and counters (the default)."""

    kind: Literal["bilateral"] = "bilateral"


class DoubleAuctionSpec(_Spec):
    """Gode-Sunder continuous double auction: only the best bid and ask stand; a cross trades."""

    kind: Literal["double_auction"] = "double_auction"
    period_rounds: int = Field(20, ge=1, le=100_000, description="Rounds per trading period; units refill each period.")
    book: Literal["gode_sunder", "full"] = Field(
        "gode_sunder",
        description="'gode_sunder': only the best bid and ask stand, improvement rule, book cleared after a trade; "
        "'full': every order stands (one per trader), price-time priority, no clearing.",
    )


class LogitDemandSpec(_Spec):
    """Consumers outside the market with logit demand (Calvano et al. 2020)."""

    a: float | list[float] = Field(
        2.0, description="Product quality index a_i: one number or one per firm (firm id order)."
    )
    a0: float = Field(0.0, description="Quality of the outside good.")
    mu: float = Field(0.25, gt=0, description="Horizontal differentiation; 0 would be perfect substitutes.")
    size: float = Field(1.0, gt=0, le=1e9, description="Mass of consumers: money per round is size x profit.")


class PostedPriceSpec(_Spec):
    """Sellers post prices (``set_price``); buyers buy at them (``buy_now``) or logit demand buys."""

    kind: Literal["posted_price"] = "posted_price"
    demand: LogitDemandSpec | None = Field(
        None, description="Simulated consumers; leave out to trade with buyer agents."
    )


class SealedBidSpec(_Spec):
    """Each listing is a sealed-bid auction of its units that clears after ``auction_rounds``."""

    kind: Literal["sealed_bid"] = "sealed_bid"
    price_rule: Literal["first", "second"] = Field("second", description="'second' is Vickrey's auction.")
    auction_rounds: int = Field(
        2, ge=1, le=1000, description="Rounds a listing takes bids after the round it is posted in."
    )


class IntermediarySpec(_Spec):
    """An intermediary matches buyers to the best-ranked seller and pays sellers by outcome."""

    kind: Literal["intermediary"] = "intermediary"
    outcome: Literal["drawn", "reported"] = Field(
        "drawn",
        description="'drawn': the outcome is drawn from the seller's true quality at delivery and settles at once; "
        "'reported': the buyer experiences a draw and reports a score, scored against that draw.",
    )


class ItemSpec(_Spec):
    """An information item a vendor sells."""

    seller: str = Field(description="Agent id of the vendor, e.g. seller-000.")
    title: str = Field(max_length=200, description="What buyers see before inspecting.")
    claim: str = Field("", max_length=500, description="The vendor's claim about the item (may be false).")
    content: str = Field(max_length=4000, description="The information, seen only by inspecting or buying.")
    value: float = Field(ge=0, description="What the item is worth to a buyer's decision.")
    price: float = Field(gt=0, description="The vendor's price.")


class InformationSpec(_Spec):
    """Information bazaar (Weiss et al. 2024): inspect before buying; forget what you do not buy."""

    kind: Literal["information"] = "information"
    items: list[ItemSpec] = Field(default_factory=list, description="The items on sale at the start.")

    @field_validator("items")
    @classmethod
    def _some(cls, items: list[ItemSpec]) -> list[ItemSpec]:
        if not items:
            raise ValueError("an information market needs at least one item")
        return items


MechanismSpec = Union[
    BilateralSpec, DoubleAuctionSpec, PostedPriceSpec, SealedBidSpec, IntermediarySpec, InformationSpec
]
"""The built-in specs (for type hints; a scenario accepts any registered mechanism's spec)."""
