"""Sealed-bid auctions: every listing auctions its units; bids are secret until it clears.

A seller posts a listing (``post_service``); its ask is the reserve price and its capacity
the number of units. Buyers send ``sealed_bid`` (one unit each; a new bid replaces the
bidder's earlier one) until the end of round ``posted_round + auction_rounds``. Then the
auction clears with ``protocols.auctions.clear_units``: second price (Vickrey; uniform
(k+1)-th price for k units) or first price. Ties go to the earlier bid. A winner who can
no longer pay is dropped and the auction is cleared again without it.
"""

from __future__ import annotations

from typing import Any

from protocols.actions import ActionBase, PostService, SealedBid
from protocols.auctions import SealedBid as Bid
from protocols.auctions import clear_units
from protocols.dialogue import Deadlines
from protocols.money import to_micros
from protocols.policy import IncentivePolicy
from sandbox.ledger import Ledger
from sandbox.market import Deal, Market, Member
from sandbox.mechanisms.spec import SealedBidSpec
from sandbox.mechanisms.trades import trade_now


class SealedBidMarket(Market):
    """Listings as sealed-bid auctions that clear after a fixed number of rounds."""

    mechanism = "sealed_bid"

    @classmethod
    def from_spec(
        cls, spec: Any, ledger: Ledger, deadlines: Deadlines, *, seed: int, rounds: int, policy: IncentivePolicy
    ) -> SealedBidMarket:
        """The sealed-bid market for ``spec``."""
        return cls(ledger, deadlines, spec)

    def __init__(self, ledger: Ledger, deadlines: Deadlines, spec: SealedBidSpec) -> None:
        super().__init__(ledger, deadlines)
        self.spec = spec
        self.closes: dict[str, int] = {}  # listing id -> last round that takes bids
        self.bids: dict[str, dict[str, tuple[int, int]]] = {}  # listing -> bidder -> (amount, seq)
        self._seq = 0

    def auction_open(self, listing_id: str) -> bool:
        """Bids are taken until the end of the listing's closing round."""
        return listing_id in self.closes and self.round <= self.closes[listing_id]

    def apply(self, action: ActionBase, who: str, policy: IncentivePolicy) -> tuple[str | None, Deal | None]:
        """Open an auction (a listing) or place a sealed bid."""
        if isinstance(action, SealedBid):
            self._seq += 1
            self.bids.setdefault(action.listing_id, {})[who] = (to_micros(action.price), self._seq)
            return None, None
        out = super().apply(action, who, policy)
        if isinstance(action, PostService):
            lid = f"L{self._listing_seq}"
            self.closes[lid] = self.round + self.spec.auction_rounds
        return out

    def _clear(self, lid: str, policy: IncentivePolicy) -> list[Deal]:
        li = self.listings[lid]
        offered = self.bids.pop(lid, {})
        rule = "second_price" if self.spec.price_rule == "second" else "first_price"
        deals: list[Deal] = []
        while True:
            bids = [Bid(b, amt) for b, (amt, _) in sorted(offered.items(), key=lambda kv: kv[1][1])]
            awards = clear_units(bids, li.remaining, li.ask_micros, rule)
            broke = [a.bidder for a in awards if self.available_micros(a.bidder) < a.price]
            if not broke:
                break
            for b in broke:
                offered.pop(b)
        seller = self.members[li.seller]
        cost = to_micros(seller.private.costs.get(li.service, 0.0))
        for a in awards:
            buyer = self.members[a.bidder]
            buyer.units_committed += 1
            li.reserved += 1
            within = buyer.units_committed <= buyer.private.demand
            value = to_micros(buyer.private.values.get(li.service, 0.0)) if within else 0
            deals.append(
                trade_now(
                    self, a.bidder, li.seller, li.service, a.price, policy, listing_id=lid, value=value, cost=cost
                )
            )
        li.capacity = li.reserved  # unsold units are withdrawn with the auction
        seller.units_listed = sum(x.capacity for x in seller.listings.values())
        return deals

    def run_deadlines(self, policy: IncentivePolicy) -> list[Deal]:
        """Clear every auction whose last bidding round has ended."""
        deals = super().run_deadlines(policy)
        for lid in sorted(k for k, r in self.closes.items() if r == self.round):
            deals += self._clear(lid, policy)
        return deals

    def board_for(self, member: Member) -> dict[str, Any]:
        """Open auctions of the member's services, with its own bid (others' bids stay sealed)."""
        wanted = set(member.private.values)
        auctions = [
            {
                "listing_id": lid,
                "service": self.listings[lid].service,
                "reserve": self.listings[lid].ask_micros / 1e6,
                "units": self.listings[lid].remaining,
                "last_bid_round": close,
                "your_bid": (self.bids.get(lid, {}).get(member.id, (None, 0))[0] or 0) / 1e6 or None,
            }
            for lid, close in sorted(self.closes.items())
            if close >= self.round + 1 and self.listings[lid].service in wanted
        ][:12]
        return {"auctions": auctions, "price_rule": self.spec.price_rule}
