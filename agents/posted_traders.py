"""Scripted traders for posted prices with buyer agents and for sealed-bid auctions.

Posted prices: a seller sets its price at cost x (1 + markup); a buyer buys the cheapest
listing priced at or below its value, one unit a round while its demand lasts. Sealed bid:
a seller auctions its capacity with the reserve at cost x (1 + markup); a bidder bids on
the open auctions of services it values, its value under the second-price rule (truthful
bidding is dominant there) and ``shade`` x value under the first-price rule.
None keeps state between rounds.
"""

from __future__ import annotations

from collections.abc import Sequence

from agents.base import Agent
from agents.observation import Observation
from protocols.actions import ActionBase, BuyNow, PostService, SealedBid, SetPrice


def _markup_price(obs: Observation, service: str, markup: float) -> float:
    cost = obs.private.costs.get(service, obs.market.min_price)
    return round(min(max(cost * (1 + markup), obs.market.min_price), obs.market.max_price), 2)


class PostedSeller(Agent):
    """Posted prices: sets the price of its first service at cost x (1 + markup) once, then holds it."""

    kind = "posted_seller"
    description = "Posted-price seller: sets its price at cost x (1 + markup) (param markup, default 0.2)."

    def decide(self, obs: Observation) -> Sequence[ActionBase]:
        """Post (or re-post, if it changed) the markup price."""
        if obs.market.mechanism != "posted_price" or not obs.private.costs:
            return []
        service = sorted(obs.private.costs)[0]
        price = _markup_price(obs, service, float(self.params.get("markup", 0.2)))
        if any(li.service == service and li.ask_price == price for li in obs.my_listings):
            return []
        return [SetPrice(service=service, price=price)]


class PostedBuyer(Agent):
    """Posted prices: buys one unit a round of the cheapest listing priced at or below its value."""

    kind = "posted_buyer"
    description = "Posted-price buyer: buys the cheapest listing at or below its value, one unit a round."

    def decide(self, obs: Observation) -> Sequence[ActionBase]:
        """One buy_now while demand is left."""
        if obs.market.mechanism != "posted_price" or obs.private.demand <= 0:
            return []
        worth = [
            li
            for li in obs.market.listings
            if li.seller != obs.agent_id
            and li.remaining > 0
            and li.ask_price <= min(obs.private.values.get(li.service, -1.0), obs.balance)
        ]
        if not worth:
            return []
        best = min(worth, key=lambda li: (li.ask_price, li.id))
        return [BuyNow(listing_id=best.id)]


class AuctionSeller(Agent):
    """Sealed bid: auctions its whole capacity once, with the reserve at cost x (1 + markup)."""

    kind = "auction_seller"
    description = (
        "Sealed-bid seller: auctions its capacity with reserve cost x (1 + markup) (param markup, default 0.1)."
    )

    def decide(self, obs: Observation) -> Sequence[ActionBase]:
        """Open an auction of the units not listed yet."""
        if obs.private.capacity <= 0 or not obs.private.costs:
            return []
        service = sorted(obs.private.costs)[0]
        reserve = _markup_price(obs, service, float(self.params.get("markup", 0.1)))
        return [
            PostService(
                service=service,
                description=f"{service} by {obs.agent_id}",
                ask_price=reserve,
                capacity=obs.private.capacity,
            )
        ]


class SealedBidder(Agent):
    """Sealed bid: bids its value (second price) or ``shade`` x value (first price) on open auctions."""

    kind = "sealed_bidder"
    description = "Sealed-bid buyer: bids its value under the second-price rule, shade x value (0.8) under first price."

    def decide(self, obs: Observation) -> Sequence[ActionBase]:
        """Bid on up to ``demand`` open auctions (in a seeded random order) it has not bid on yet."""
        board = obs.market.board
        if obs.market.mechanism != "sealed_bid" or obs.private.demand <= 0:
            return []
        shade = 1.0 if board.get("price_rule", "second") == "second" else float(self.params.get("shade", 0.8))
        out: list[ActionBase] = []
        auctions = list(board.get("auctions", []))
        self.rng.shuffle(auctions)  # bidders spread over the auctions instead of all bidding on the first
        for auction in auctions:
            value = obs.private.values.get(auction["service"])
            if value is None or auction.get("your_bid") is not None:
                continue
            price = round(min(value * shade, obs.balance, obs.market.max_price), 2)
            if price >= auction["reserve"]:
                out.append(SealedBid(listing_id=auction["listing_id"], price=price))
            if len(out) >= obs.private.demand:
                break
        return out


POSTED_TRADERS: tuple[type[Agent], ...] = (PostedSeller, PostedBuyer, AuctionSeller, SealedBidder)
