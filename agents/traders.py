"""Scripted traders for the mechanisms beyond negotiation: double auction, intermediary, information.

Double auction (Gode and Sunder 1993): each round a trader with units left submits one
order for its next unit (``unit`` names it, so a stale order is refused rather than filled
at a loss). ZI-U draws its price uniformly over the whole price band; ZI-C never trades at
a loss: buyers draw in [min price, value of the next unit], sellers in [cost, max price].

Incentives: ZI-C, the outcome seller and the match buyer price from the policy in force
(``agents.incentives.Terms``, read from the observation each round): a unit's cost becomes
its floor net of fee, tax, subsidy, reward and the expected outcome share; a value its
ceiling. ZI-U stays blind to incentives on purpose (the control).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from random import Random

from agents.base import Agent
from agents.incentives import Terms, terms_of
from agents.observation import Observation
from agents.plain_view import TRUSTED_PLAIN, PlainView, plain_fields, plain_view_of
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
from protocols.trusted import builder

_UNIFORM = Random.uniform  # ``decide`` computes it inline where the generator's class keeps it


class _ZITrader(Agent):
    """One order per round for the next unit, at a random price."""

    constrained = False
    on_demand_observation = True  # reads its schedule, balance, price band and incentives, during its turn
    plain_view = True  # and nothing else: the engine's plain view of its member will do (agents/plain_view.py)
    draws_every_turn = True  # a price for each order (the session seeds its generator at the turn's start)

    def decide(self, obs: Observation | PlainView) -> Sequence[ActionBase]:
        """Bid (buyers) or ask (sellers) for the next unit of the first service traded."""
        v = obs if type(obs) is PlainView else plain_view_of(obs)
        return self.order_for(*plain_fields(v))  # its values in its fields' order, as ``order_for`` takes them

    def order_for(
        self,
        mechanism: str,
        lo: float,
        hi: float,
        values: Mapping[str, float],
        costs: Mapping[str, float],
        demand: int,
        capacity: int,
        balance: float,
        terms: Terms,
        schedule: Mapping[str, Sequence[float]],
    ) -> list[ActionBase]:
        """``decide`` on a ``PlainView``'s values, given one by one (its fields, in its order). The session calls
        this directly, with the member's own mappings and no view (``sandbox.observe.Observer.plain_values``),
        for an agent whose class keeps this ``decide`` and this method: they only read what they are given."""
        if mechanism != "double_auction":
            return []
        buying = bool(values)
        known = values if buying else costs
        left = demand if buying else capacity
        if not known or left <= 0:
            return []
        svc = min(known)  # the first service traded, in name order
        limit = known[svc]
        if self.constrained:  # ZI-C's limit is the unit's value or cost net of the policy in force
            if terms.neutral:  # ``buyer_ceiling`` and ``seller_floor`` as their arithmetic gives them here
                limit = limit + 0.0 if buying else (0.0 if limit <= 0 else limit)
            else:
                limit = terms.buyer_ceiling(limit) if buying else terms.seller_floor(limit)
            # ``min`` and ``max`` as they choose (the first argument unless the second is smaller or larger)
            if buying:
                hi = hi if hi < limit else limit  # min(limit, hi)
            else:
                lo = lo if lo > limit else limit  # max(limit, lo)
        if buying and balance < hi:
            hi = balance  # min(hi, balance)
        if hi < lo:
            return []
        units = len(schedule.get(svc, ())) or None  # ``PlainView.units``
        unit = units - left if units is not None else None
        rng = self.rng  # ``uniform`` as ``random.Random.uniform`` computes it: one call less where it is that method
        price = round(lo + (hi - lo) * rng.random() if type(rng).uniform is _UNIFORM else rng.uniform(lo, hi), 2)
        if lo > price:  # rounding must not leave the allowed interval: min(max(price, lo), hi)
            price = lo
        if hi < price:
            price = hi
        # our own code and plain values: built without validation (protocols/trusted.py), as it would make it
        return [
            _place_order(  # every field, in declaration order
                {
                    "sender": None,
                    "type": "place_order",
                    "side": "buy" if buying else "sell",
                    "service": svc,
                    "price": float(price),
                    "unit": unit,
                }
            )
        ]


_place_order = builder(PlaceOrder)
TRUSTED_PLAIN[_ZITrader.decide] = _ZITrader.order_for


class ZIUTrader(_ZITrader):
    """Zero-intelligence unconstrained double-auction trader; incentive-blind on purpose (the control)."""

    kind = "zi_u_da"
    description = (
        "Double auction, zero-intelligence unconstrained: order prices uniform over the whole price band "
        "(incentive-blind on purpose: the control)."
    )


class ZICTrader(_ZITrader):
    """Zero-intelligence constrained double-auction trader."""

    kind = "zi_c_da"
    description = (
        "Double auction, zero-intelligence constrained: bids at most the unit's value, asks at least its cost "
        "(net of fees, taxes, subsidies and rewards)."
    )
    constrained = True


class OutcomeSeller(Agent):
    """Intermediary seller: lists its capacity at floor x (1 + markup); delivers claiming ``claim`` (default: the truth).

    The floor is its cost net of the policy in force for its true quality and its claim
    (``Terms.seller_floor``): fee, tax, subsidy, outcome reward and the expected outcome share.
    """

    kind = "outcome_seller"
    description = (
        "Intermediary seller: lists at floor x (1 + markup), the floor being its cost net of fee, tax, "
        "mints and expected outcome share; delivers claiming 'claim' (default its true quality)."
    )

    def quality(self, obs: Observation, price: float | None) -> float:
        """The quality it delivers (the true one; an effort-choosing seller overrides this)."""
        return obs.private.quality if obs.private.quality is not None else 1.0

    def floor(self, obs: Observation, cost: float) -> float:
        """Least price covering ``cost`` at the quality it delivers and the claim it makes."""
        claim = self.params.get("claim")
        q = self.quality(obs, None)
        return terms_of(obs).seller_floor(cost, q, float(claim) if claim is not None else None)

    def decide(self, obs: Observation) -> Sequence[ActionBase]:
        """Deliver every matched deal, then list what is not listed yet."""
        claim = self.params.get("claim")
        out: list[ActionBase] = [
            Deliver(thread_id=t.id, quality=float(claim) if claim is not None else self.quality(obs, t.price))
            for t in obs.threads
            if "deliver" in t.your_move
        ]
        if obs.private.capacity > 0 and obs.private.costs:
            svc, cost = sorted(obs.private.costs.items())[0]
            floor = self.floor(obs, cost)
            if floor > obs.market.max_price:
                return out  # no price in the band covers cost under this policy: do not list
            ask = min(
                max(floor * (1 + float(self.params.get("markup", 0.2))), obs.market.min_price), obs.market.max_price
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
        "Intermediary buyer: requests a match up to its value (plus the report bonus when reports are verified); "
        "reports outcomes truthfully (or 'low': always 0)."
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
            verified = obs.market.board.get("outcome") == "reported"  # reports scored: the bonus is earned
            limit = min(terms_of(obs).buyer_ceiling(value, verified=verified), obs.balance, obs.market.max_price)
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
