"""Scripted traders for the mechanisms beyond negotiation: double auction, intermediary, information.

Double auction (Gode and Sunder 1993): each round a trader with units left submits one
order for its next unit (``unit`` names it, so a stale order is refused rather than filled
at a loss). ZI-U draws its price uniformly over the whole price band; ZI-C never trades at
a loss: buyers draw in [min price, value of the next unit], sellers in [cost, max price].
"""

from __future__ import annotations

from collections.abc import Sequence

from agents.base import Agent
from agents.observation import Observation
from protocols.actions import (
    ActionBase,
    BuyNow,
    Deliver,
    Inspect,
    PlaceOrder,
    PostService,
    ReportOutcome,
    RequestMatch,
)


class _ZITrader(Agent):
    """One order per round for the next unit, at a random price."""

    constrained = False

    def decide(self, obs: Observation) -> Sequence[ActionBase]:
        """Bid (buyers) or ask (sellers) for the next unit of the first service traded."""
        if obs.market.mechanism != "double_auction":
            return []
        lo, hi = obs.market.min_price, obs.market.max_price
        buying = bool(obs.private.values)
        known = obs.private.values if buying else obs.private.costs
        left = obs.private.demand if buying else obs.private.capacity
        if not known or left <= 0:
            return []
        svc = sorted(known)[0]
        limit = known[svc]
        if self.constrained:
            lo, hi = (lo, min(limit, hi)) if buying else (max(limit, lo), hi)
        if buying:
            hi = min(hi, obs.balance)
        if hi < lo:
            return []
        units = len(obs.private.schedule.get(svc, ())) or None
        unit = units - left if units is not None else None
        price = round(self.rng.uniform(lo, hi), 2)
        price = min(max(price, lo), hi)  # rounding must not leave the allowed interval
        return [PlaceOrder(side="buy" if buying else "sell", service=svc, price=price, unit=unit)]


class ZIUTrader(_ZITrader):
    """Zero-intelligence unconstrained double-auction trader."""

    kind = "zi_u_da"
    description = "Double auction, zero-intelligence unconstrained: order prices uniform over the whole price band."


class ZICTrader(_ZITrader):
    """Zero-intelligence constrained double-auction trader."""

    kind = "zi_c_da"
    description = (
        "Double auction, zero-intelligence constrained: bids at most the unit's value, asks at least its cost."
    )
    constrained = True


class OutcomeSeller(Agent):
    """Intermediary seller: lists its capacity at cost x (1 + markup); delivers claiming ``claim`` (default: the truth)."""

    kind = "outcome_seller"
    description = "Intermediary seller: lists at cost x (1 + markup) and delivers, claiming quality 'claim' (default its true quality)."

    def decide(self, obs: Observation) -> Sequence[ActionBase]:
        """Deliver every matched deal, then list what is not listed yet."""
        claim = self.params.get("claim")
        true_q = obs.private.quality if obs.private.quality is not None else 1.0
        out: list[ActionBase] = [
            Deliver(thread_id=t.id, quality=float(claim) if claim is not None else true_q)
            for t in obs.threads
            if "deliver" in t.your_move
        ]
        if obs.private.capacity > 0 and obs.private.costs:
            svc, cost = sorted(obs.private.costs.items())[0]
            ask = min(
                max(cost * (1 + float(self.params.get("markup", 0.2))), obs.market.min_price), obs.market.max_price
            )
            out.append(
                PostService(
                    service=svc,
                    description=f"{svc} by {obs.agent_id}",
                    ask_price=round(ask, 2),
                    capacity=obs.private.capacity,
                )
            )
        return out


class MatchBuyer(Agent):
    """Intermediary buyer: asks for one match per round up to its value; reports what it experienced.

    ``report``: 'truthful' (default) reports the experienced outcome; 'low' always reports 0.
    """

    kind = "match_buyer"
    description = (
        "Intermediary buyer: requests a match up to its value; reports outcomes truthfully (or 'low': always 0)."
    )

    def decide(self, obs: Observation) -> Sequence[ActionBase]:
        """Report experienced outcomes, then ask for a match if demand is left."""
        out: list[ActionBase] = []
        seen = obs.market.board.get("experienced_outcomes", {})
        for t in obs.threads:
            if "report_outcome" in t.your_move:
                score = 0.0 if self.params.get("report") == "low" else float(seen.get(t.id, t.quality or 0.0))
                out.append(ReportOutcome(thread_id=t.id, score=score))
        if obs.private.demand > 0 and obs.private.values:
            svc, value = sorted(obs.private.values.items())[0]
            limit = min(value, obs.balance, obs.market.max_price)
            if limit >= obs.market.min_price and any(
                li.service == svc and li.ask_price <= limit for li in obs.market.listings
            ):
                out.append(RequestMatch(service=svc, max_price=round(limit, 2)))
        return out


class InspectingBuyer(Agent):
    """Information buyer: inspects up to ``k`` unseen items a round; buys the best inspected one worth its price."""

    kind = "inspecting_buyer"
    description = (
        "Information market buyer: inspects items before buying; buys the best one whose value exceeds its price."
    )

    def decide(self, obs: Observation) -> Sequence[ActionBase]:
        """Buy from last round's inspections if worth it, else inspect more."""
        if obs.market.mechanism != "information" or obs.private.demand <= 0:
            return []
        board = obs.market.board
        asks = {li.id: li.ask_price for li in obs.market.listings}
        worth = [
            (i["value"] - asks[i["listing_id"]], i["listing_id"])
            for i in board.get("inspection", [])
            if i["listing_id"] in asks
        ]
        good = [w for w in worth if w[0] > 0 and asks[w[1]] <= obs.balance]
        if good:
            return [BuyNow(listing_id=max(good)[1])]
        before = set(board.get("inspected_before", []))
        fresh = [li for li in obs.market.listings if li.id not in before]
        return [Inspect(listing_id=li.id) for li in fresh[: int(self.params.get("k", 2))]]


class BlindBuyer(Agent):
    """Information buyer that never inspects: buys the cheapest item whose title or claim says 'best' or else the cheapest."""

    kind = "blind_buyer"
    description = (
        "Information market buyer: buys without inspecting, trusting vendors' claims (cheapest claimed 'best')."
    )

    def decide(self, obs: Observation) -> Sequence[ActionBase]:
        """Buy one item a round while demand lasts."""
        if obs.market.mechanism != "information" or obs.private.demand <= 0:
            return []
        affordable = [li for li in obs.market.listings if li.ask_price <= obs.balance]
        if not affordable:
            return []
        claimed = [li for li in affordable if "best" in li.description.lower()]
        pick = min(claimed or affordable, key=lambda li: (li.ask_price, li.id))
        return [BuyNow(listing_id=pick.id)]


class Idle(Agent):
    """Does nothing: a vendor whose items the scenario lists, or a placeholder."""

    kind = "idle"
    description = "Does nothing (vendors whose items the scenario lists; placeholders)."

    def decide(self, obs: Observation) -> Sequence[ActionBase]:
        """No actions."""
        return []


TRADERS: tuple[type[Agent], ...] = (ZIUTrader, ZICTrader, OutcomeSeller, MatchBuyer, InspectingBuyer, BlindBuyer, Idle)
