"""Scripted bidders for marketic auctions, also played by the offline stand-in model.

A marketic primitive is told, as a buyer, the value of the state on sale (its ``values`` for
the listing's service) and answers with one ``sealed_bid`` for it. ``marketic_truthful`` bids
its value; ``marketic_shading`` bids 80 % of it, as a profit-seeking bidder would in a
first-price auction. Both stay within the market's price bounds and the agent's balance.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from agents.base import Agent
from agents.observation import Observation
from protocols.actions import ActionBase, SealedBid


class TruthfulStateBidder(Agent):
    """Bids its value for every auctioned listing it has a value for."""

    kind: ClassVar[str] = "marketic_truthful"
    description: ClassVar[str] = "Marketic bidder: a sealed bid equal to its value for the state on sale."
    shade: ClassVar[float] = 1.0

    def decide(self, obs: Observation) -> Sequence[ActionBase]:
        """One sealed bid per listing it values: ``shade`` x value, within bounds and balance."""
        out: list[ActionBase] = []
        for listing in obs.market.listings:
            value = obs.private.values.get(listing.service)
            if value is None:
                continue
            price = min(max(value * self.shade, obs.market.min_price), obs.market.max_price, max(obs.balance, 0.0))
            out.append(SealedBid(listing_id=listing.id, price=round(price, 6)))
        return out


class ShadingStateBidder(TruthfulStateBidder):
    """Bids 80 % of its value: keeps a margin, as a first-price bidder would."""

    kind: ClassVar[str] = "marketic_shading"
    description: ClassVar[str] = "Marketic bidder: a sealed bid of 80 % of its value for the state on sale."
    shade: ClassVar[float] = 0.8


STATE_BIDDERS: tuple[type[TruthfulStateBidder], ...] = (TruthfulStateBidder, ShadingStateBidder)
