"""The intermediary: it matches each buyer to the best-ranked seller and pays by outcome.

A buyer sends ``request_match`` (service, most it will pay). The intermediary picks, among
listings of that service it can afford, the one with the lowest rank price
(``ask * (1 + weight * (1 - reputation))``, the policy's reputation rule), and the buyer's
payment moves into escrow at the listing's ask. The seller delivers, claiming a quality.

Outcomes: with ``outcome: drawn`` the intermediary draws the outcome at delivery, 1 with
probability equal to the seller's hidden true quality (else 0), and settles at once; with
``outcome: reported`` the buyer experiences that draw (shown on its board) and reports a
score, which settles the deal and is scored against the draw for the report bonus. The
seller is paid by the policy's outcome payment rule; the rest of the escrow is refunded.
Each settled outcome updates the seller's reputation. Draws are seeded by the session seed
and the thread id, so runs replay exactly.
"""

from __future__ import annotations

import random
from typing import Any

from protocols.actions import ActionBase, Deliver, RequestMatch
from protocols.dialogue import Deadlines
from protocols.money import to_micros
from protocols.policy import IncentivePolicy
from protocols.settlement import rank_price
from protocols.state import Listing, Thread
from sandbox.ledger import Ledger
from sandbox.market import Deal, Market, Member
from sandbox.mechanisms.spec import IntermediarySpec


class IntermediaryMarket(Market):
    """Matching by reputation-weighted price, escrow, and payment by outcome."""

    mechanism = "intermediary"

    @classmethod
    def from_spec(
        cls, spec: Any, ledger: Ledger, deadlines: Deadlines, *, seed: int, rounds: int, policy: IncentivePolicy
    ) -> IntermediaryMarket:
        """The intermediary for ``spec``; its outcome draws are seeded from ``seed``."""
        return cls(ledger, deadlines, spec, seed, policy)

    def __init__(
        self, ledger: Ledger, deadlines: Deadlines, spec: IntermediarySpec, seed: int, policy: IncentivePolicy
    ) -> None:
        super().__init__(ledger, deadlines)
        self.spec = spec
        self.seed = seed
        self.policy = policy  # the session keeps it current; ranking uses its reputation rule
        self.signals: dict[str, float] = {}  # thread -> the outcome its buyer experienced
        self.claims: list[tuple[float, float]] = []  # (claimed quality, true quality) per delivery

    def match_for(self, agent_id: str, service: str, max_price: int) -> Listing | None:
        """The affordable listing with the lowest rank price (ties: lower listing id)."""
        limit = min(max_price, self.available_micros(agent_id))
        fits = [
            li
            for li in self.listings.values()
            if li.service == service and li.remaining > 0 and li.seller != agent_id and li.ask_micros <= limit
        ]
        if not fits:
            return None
        return min(
            fits,
            key=lambda li: (
                rank_price(li.ask_micros / 1e6, self.reputation_of(li.seller), self.policy),
                int(li.id[1:]),
            ),
        )

    def _draw(self, t: Thread) -> float:
        true_q = self.members[t.seller].private.quality
        q = t.quality if true_q is None else true_q
        return 1.0 if random.Random(f"{self.seed}/outcome/{t.id}").random() < (q or 0.0) else 0.0

    def apply(self, action: ActionBase, who: str, policy: IncentivePolicy) -> tuple[str | None, Deal | None]:
        """Match a buyer (escrowing its payment), or deliver and settle by outcome."""
        self.policy = policy
        if isinstance(action, RequestMatch):
            li = self.match_for(who, action.service, to_micros(action.max_price))
            assert li is not None, "check_posted refuses a match request with no listing to match"
            t = self._open(li.id, who)
            t.price_micros, t.proposer, t.moves = li.ask_micros, li.seller, 1
            self._accept(t)
            self.members[li.seller].notices.append(
                f"the intermediary matched {who} to your listing {li.id} (thread {t.id}): deliver"
            )
            return t.id, None
        tid, deal = super().apply(action, who, policy)
        if isinstance(action, Deliver):
            t = self.threads[action.thread_id]
            outcome = self._draw(t)
            true_q = self.members[t.seller].private.quality
            self.claims.append((action.quality, action.quality if true_q is None else true_q))
            if self.spec.outcome == "drawn":
                t.score = outcome
                deal = self._settle(t, policy)
            else:
                self.signals[t.id] = outcome
        return tid, deal

    def _settle(self, t: Thread, policy: IncentivePolicy, verification: float | None = None) -> Deal:
        """Settle by outcome; the deal's value is the buyer's value times the outcome."""
        signal = self.signals.pop(t.id, None)
        deal = super()._settle(t, policy, signal if verification is None else verification)
        buyer, seller = self.members[t.buyer], self.members[t.seller]
        within = buyer.units_settled <= buyer.private.demand
        outcome = (
            t.score if t.score is not None else (signal if signal is not None else (seller.private.quality or 0.0))
        )
        value = to_micros(buyer.private.values.get(t.service, 0.0) * outcome) if within else 0
        cost = to_micros(seller.private.costs.get(t.service, 0.0))
        return Deal(deal.thread, deal.status, deal.price, deal.fee, deal.round, value, cost)

    def max_surplus(self) -> float:
        """Most expected surplus: buyers' units, highest value first, each take the free seller unit
        with the highest ``value * quality - cost`` (greedy; exact when buyers' values are equal)."""
        units: list[tuple[float, float]] = []  # (quality, cost) per seller unit
        for m in self.members.values():
            for c in m.private.costs.values():
                units += [(1.0 if m.private.quality is None else m.private.quality, c)] * m.private.capacity
        total = 0.0
        values = sorted(
            (v for m in self.members.values() for v in m.private.values.values() for _ in range(m.private.demand)),
            reverse=True,
        )
        for v in values:
            best = max(range(len(units)), key=lambda i: v * units[i][0] - units[i][1], default=None)
            if best is None or v * units[best][0] - units[best][1] <= 0:
                break
            total += v * units[best][0] - units[best][1]
            units.pop(best)
        return total

    def board_for(self, member: Member) -> dict[str, Any]:
        """Buyers see the outcomes they experienced and await reporting; sellers their reputation."""
        mine = {tid: o for tid, o in self.signals.items() if self.threads[tid].buyer == member.id}
        return {"experienced_outcomes": mine, "outcome": self.spec.outcome, "your_reputation": member.reputation}

    def summary(self) -> dict[str, Any]:
        """How far sellers' claims were from their true quality, on average."""
        if not self.claims:
            return {}
        gap = sum(abs(c - q) for c, q in self.claims) / len(self.claims)
        reps = {aid: round(m.reputation, 4) for aid, m in sorted(self.members.items()) if m.reputation is not None}
        return {"mean_claim_gap": round(gap, 4), "reputation": reps}
