"""An information market with inspection, after the "Information Bazaar" of Weiss et al. (2024).

Vendors sell information items at posted prices. A buyer sees an item's title and the
vendor's claim; to see the content and its worth to its decision it must ``inspect`` the
item. What it inspected is shown in its next observation only, then dropped from its
state: the buyer keeps it only by buying it (``buy_now``). Items are information, so a
vendor can sell one item to many buyers. A buyer's surplus is the value of what it bought
(up to its demand in items); the most possible is, for each buyer, the values of the
``demand`` best items.
"""

from __future__ import annotations

from typing import Any

from protocols.actions import ActionBase, BuyNow, Inspect
from protocols.dialogue import Deadlines
from protocols.money import to_micros
from protocols.policy import IncentivePolicy
from protocols.state import Listing
from sandbox.ledger import Ledger
from sandbox.market import Deal, Member
from sandbox.mechanisms.posted_price import PostedPriceMarket
from sandbox.mechanisms.spec import InformationSpec, ItemSpec
from sandbox.mechanisms.trades import trade_now

SERVICE = "information"


class InformationMarket(PostedPriceMarket):
    """Posted-price information items that buyers may inspect, and forget, before buying."""

    mechanism = "information"

    @classmethod
    def from_spec(
        cls, spec: Any, ledger: Ledger, deadlines: Deadlines, *, seed: int, rounds: int, policy: IncentivePolicy
    ) -> InformationMarket:
        """The information market selling ``spec.items``."""
        return cls(ledger, deadlines, spec)

    def __init__(self, ledger: Ledger, deadlines: Deadlines, spec: InformationSpec) -> None:
        super().__init__(ledger, deadlines, None)
        self.spec = spec
        self.items: dict[str, ItemSpec] = {}  # listing id -> item
        self.inspecting: dict[str, list[str]] = {}  # agent -> items inspected this round
        self.ever_inspected: dict[str, set[str]] = {}
        self.owned: dict[str, list[str]] = {}
        self.n_inspections = 0

    def join(self, member: Member) -> None:
        """Register an agent; a vendor's items go on sale as it joins."""
        super().join(member)
        for item in self.spec.items:
            if item.seller == member.id:
                self._listing_seq += 1
                lid = f"L{self._listing_seq}"
                desc = f"{item.title}. Vendor's claim: {item.claim}" if item.claim else item.title
                li = Listing(lid, member.id, SERVICE, desc, to_micros(item.price), 1_000_000, 0, self.round)
                self.listings[lid] = member.listings[lid] = li
                self.items[lid] = item

    def apply(self, action: ActionBase, who: str, policy: IncentivePolicy) -> tuple[str | None, Deal | None]:
        """Inspect an item (seen next round only) or buy it (kept)."""
        if isinstance(action, Inspect):
            self.inspecting.setdefault(who, []).append(action.listing_id)
            self.ever_inspected.setdefault(who, set()).add(action.listing_id)
            self.n_inspections += 1
            return None, None
        if isinstance(action, BuyNow) and action.listing_id in self.items:
            li, buyer = self.listings[action.listing_id], self.members[who]
            buyer.units_committed += 1
            li.reserved += 1
            owned = self.owned.setdefault(who, [])
            fresh = action.listing_id not in owned and buyer.units_committed <= buyer.private.demand
            owned.append(action.listing_id)
            value = to_micros(self.items[li.id].value) if fresh else 0
            return None, trade_now(
                self, who, li.seller, SERVICE, li.ask_micros, policy, listing_id=li.id, value=value, cost=0
            )
        return super().apply(action, who, policy)

    def board_for(self, member: Member) -> dict[str, Any]:
        """What the member inspected last round (shown once, then forgotten) and what it owns."""
        seen = self.inspecting.pop(member.id, [])
        show = [
            {"listing_id": lid, "content": self.items[lid].content, "value": self.items[lid].value}
            for lid in dict.fromkeys(seen)
        ]
        owned = self.owned.get(member.id, [])
        return {
            "inspection": show,
            "inspected_before": sorted(self.ever_inspected.get(member.id, set()) - set(owned))[:24],
            "owned": [{"listing_id": lid, "content": self.items[lid].content} for lid in owned[-8:]],
        }

    def max_surplus(self) -> float:
        """For each buyer, the values of its ``demand`` best items."""
        unknown = sorted({i.seller for i in self.spec.items} - set(self.members))
        if unknown:
            raise ValueError(f"items name vendors that are not agents of this market: {', '.join(unknown)}")
        values = sorted((i.value for i in self.spec.items), reverse=True)
        return sum(sum(values[: m.private.demand]) for m in self.members.values() if m.role == "buyer")

    def summary(self) -> dict[str, Any]:
        """How many inspections and purchases the run had."""
        return {"inspections": self.n_inspections, "items_bought": sum(len(v) for v in self.owned.values())}
