"""Scripted baselines: simple, documented traders to compare LLM agents against.

Each trader plays either side: as a seller it lists its service and answers offers; as a
buyer it opens threads on listings of a service it values and answers counters. Every
trader delivers what it sold and reports on what it bought (the score is the claimed quality).

The zero-intelligence traders follow Gode and Sunder (1993), put into bilateral form:
a trader draws a random price each time it has to quote, and a deal is struck when the
other side's standing price is at least as good as the fresh draw (the double auction's
"bid meets ask"). ZI-U draws over the whole price band; ZI-C never trades at a loss:
buyers draw below their value, sellers above their cost.

Incentives: every trader here except ZI-U prices from the policy in force, read each round
from ``Observation.incentives`` through ``agents.incentives.Terms``. A seller's cost becomes
its floor net of fee, tax, subsidy and outcome reward (``Terms.seller_floor``: with a fee
rate f alone, ``cost / (1 - f)``), a buyer's value its ceiling net of what outcome payment
refunds (``Terms.buyer_ceiling``). ZI-U stays blind to incentives on purpose: it is the
control that shows what the market does when nobody responds to them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from agents.base import Agent
from agents.observation import Observation
from agents.trader_view import ThreadLike, TraderView, trader_view_of
from protocols.actions import (
    Accept,
    ActionBase,
    Counter,
    Deliver,
    MakeOffer,
    PostService,
    Reject,
    ReportOutcome,
)


class ScriptedTrader(Agent):
    """Shared mechanics; subclasses decide prices with ``bid``/``ask``/``take_*``."""

    max_live_threads = 3
    on_demand_observation = True  # reads its observation during its turn only
    trader_view = True  # and only what a TraderView holds: the engine's view of its member will do
    incentive_aware = True  # ZI-U turns this off: it is the incentive-blind control

    # --- pricing hooks: ``obs`` is a ``TraderView`` (agents/trader_view.py) or an ``Observation`` ---
    def bid(self, obs: Observation | TraderView, service: str, ask: float) -> float | None:
        """Price to offer for one unit of ``service`` listed at ``ask`` (None: do not bid)."""
        raise NotImplementedError

    def ask(self, obs: Observation | TraderView, service: str) -> float:
        """Asking price for a new listing or a counter."""
        raise NotImplementedError

    def take_as_buyer(self, obs: Observation | TraderView, thread: ThreadLike) -> Accept | Counter | Reject:
        """Answer a seller's standing price."""
        raise NotImplementedError

    def take_as_seller(self, obs: Observation | TraderView, thread: ThreadLike) -> Accept | Counter | Reject:
        """Answer a buyer's standing price."""
        raise NotImplementedError

    # --- the turn ----------------------------------------------------------
    def decide(self, obs: Observation | TraderView) -> Sequence[ActionBase]:
        """Answer threads that await us, then list or bid if there is room."""
        v = trader_view_of(obs)
        actions: list[ActionBase] = []
        live_as_buyer = 0
        stocked = v.stocked
        for t in v.threads:
            if t.role == "buyer":
                live_as_buyer += 1
            if not t.your_move:
                continue
            if t.role == "seller":
                if "deliver" in t.your_move:
                    actions.append(Deliver(thread_id=t.id, quality=1.0))
                elif "accept" in t.your_move or "make_offer" in t.your_move:
                    if t.listing_id not in stocked:  # sold out: end the thread rather than fail
                        actions.append(Reject(thread_id=t.id, reason="sold out"))
                    elif "accept" in t.your_move:
                        actions.append(self.take_as_seller(v, t))
                    else:
                        actions.append(MakeOffer(thread_id=t.id, price=self.ask(v, t.service)))
            else:
                if "report_outcome" in t.your_move:
                    actions.append(ReportOutcome(thread_id=t.id, score=t.quality if t.quality is not None else 1.0))
                elif "accept" in t.your_move:
                    actions.append(self.take_as_buyer(v, t))
        actions.extend(self._list_services(v))
        if v.demand > live_as_buyer and live_as_buyer < self.max_live_threads:
            opened = self._open_thread(v)
            if opened is not None:
                actions.append(opened)
        return actions

    def _list_services(self, v: TraderView) -> list[ActionBase]:
        if v.capacity <= 0 or not v.costs:
            return []
        service = min(v.costs)  # the first in name order
        if self.incentive_aware and self._floor(v, service) > v.max_price:
            return []  # no price in the band covers cost net of fees and taxes: sit out
        return [
            PostService(
                service=service,
                description=f"{service} by {v.agent_id}",
                ask_price=self.ask(v, service),
                capacity=v.capacity,
            )
        ]

    def _open_thread(self, v: TraderView) -> MakeOffer | None:
        mine = {t.listing_id for t in v.threads}
        choices = [li for li in v.listings if li.service in v.values and li.seller != v.agent_id and li.id not in mine]
        if not choices:
            return None
        listing = self.rng.choice(choices)
        price = self.bid(v, listing.service, listing.ask_price)
        if price is None:
            return None
        return MakeOffer(listing_id=listing.id, price=price)

    def _floor(self, v: TraderView, service: str) -> float:
        """The least price that covers this unit's cost under the policy in force."""
        cost = v.costs.get(service, v.min_price)
        return v.terms.seller_floor(cost)

    def _ceiling(self, v: TraderView, service: str) -> float:
        """The most this unit is worth paying under the policy in force (never above the balance)."""
        value = v.values.get(service, 0.0)
        return min(v.terms.buyer_ceiling(value), v.balance)

    def _band(self, v: TraderView) -> tuple[float, float]:
        return v.min_price, v.max_price

    @staticmethod
    def _cents(x: float) -> float:
        return round(x, 2)


class ZIU(ScriptedTrader):
    """Zero-intelligence unconstrained (Gode and Sunder 1993): random prices over the whole band.

    Blind to incentives on purpose: it is the control. Fees, taxes, subsidies, fines and
    rewards change what it ends up with, never what it does.
    """

    kind = "zi_u"
    description = (
        "Zero-intelligence unconstrained: draws every price uniformly over the whole price band "
        "(incentive-blind on purpose: the control)."
    )
    incentive_aware = False

    def _draw(self, v: TraderView) -> float:
        lo, hi = self._band(v)
        return self._cents(self.rng.uniform(lo, hi))

    def bid(self, obs: Observation | TraderView, service: str, ask: float) -> float | None:
        v = trader_view_of(obs)
        return min(self._draw(v), v.balance) if v.balance >= v.min_price else None

    def ask(self, obs: Observation | TraderView, service: str) -> float:
        v = trader_view_of(obs)
        return self._draw(v)

    def take_as_buyer(self, obs: Observation | TraderView, thread: ThreadLike) -> Accept | Counter | Reject:
        v = trader_view_of(obs)
        draw = self._draw(v)
        assert thread.price is not None
        return Accept(thread_id=thread.id) if draw >= thread.price else Counter(thread_id=thread.id, price=draw)

    def take_as_seller(self, obs: Observation | TraderView, thread: ThreadLike) -> Accept | Counter | Reject:
        v = trader_view_of(obs)
        draw = self._draw(v)
        assert thread.price is not None
        return Accept(thread_id=thread.id) if thread.price >= draw else Counter(thread_id=thread.id, price=draw)


class ZIC(ScriptedTrader):
    """Zero-intelligence constrained (Gode and Sunder 1993): random prices that never lose money."""

    kind = "zi_c"
    description = (
        "Zero-intelligence constrained: buyers draw below their value, sellers above their cost, "
        "both net of the fees, taxes, subsidies and rewards in force."
    )

    def _buy_draw(self, v: TraderView, service: str) -> float | None:
        lo = v.min_price
        hi = min(self._ceiling(v, service), v.max_price)
        return self._cents(self.rng.uniform(lo, hi)) if hi >= lo else None

    def _sell_draw(self, v: TraderView, service: str) -> float:
        lo = max(self._floor(v, service), v.min_price)
        if lo > v.max_price:
            return v.max_price  # callers check the floor first; this only keeps the price legal
        # rounding to cents must not fall below the floor (a sale a cent under it loses money)
        least = min(math.ceil(lo * 100 - 1e-9) / 100, v.max_price)
        return max(self._cents(self.rng.uniform(lo, v.max_price)), least)

    def bid(self, obs: Observation | TraderView, service: str, ask: float) -> float | None:
        v = trader_view_of(obs)
        return self._buy_draw(v, service)

    def ask(self, obs: Observation | TraderView, service: str) -> float:
        v = trader_view_of(obs)
        return self._sell_draw(v, service)

    def take_as_buyer(self, obs: Observation | TraderView, thread: ThreadLike) -> Accept | Counter | Reject:
        v = trader_view_of(obs)
        draw = self._buy_draw(v, thread.service)
        assert thread.price is not None
        if draw is None:
            return Reject(thread_id=thread.id)
        return Accept(thread_id=thread.id) if draw >= thread.price else Counter(thread_id=thread.id, price=draw)

    def take_as_seller(self, obs: Observation | TraderView, thread: ThreadLike) -> Accept | Counter | Reject:
        v = trader_view_of(obs)
        if self._floor(v, thread.service) > v.max_price:
            return Reject(thread_id=thread.id)
        draw = self._sell_draw(v, thread.service)
        assert thread.price is not None
        return Accept(thread_id=thread.id) if thread.price >= draw else Counter(thread_id=thread.id, price=draw)


class MarkupSeller(ScriptedTrader):
    """Asks its floor plus a fixed markup; accepts offers at or above the floor plus half the markup.

    The floor is the cost net of the policy in force (``Terms.seller_floor``): the cost itself
    with no fees, ``cost / (1 - f)`` under a fee rate f.
    """

    kind = "markup_seller"
    description = (
        "Seller: asks floor x (1 + markup), accepts offers >= floor x (1 + markup/2), counters below; "
        "the floor is the cost net of fee, tax, subsidy and reward."
    )

    def _markup(self) -> float:
        return float(self.params.get("markup", 0.2))

    def ask(self, obs: Observation | TraderView, service: str) -> float:
        v = trader_view_of(obs)
        floor = self._floor(v, service)
        return self._cents(min(max(floor * (1 + self._markup()), v.min_price), v.max_price))

    def bid(self, obs: Observation | TraderView, service: str, ask: float) -> float | None:
        return None  # a pure seller

    def take_as_buyer(self, obs: Observation | TraderView, thread: ThreadLike) -> Accept | Counter | Reject:
        return Reject(thread_id=thread.id)

    def take_as_seller(self, obs: Observation | TraderView, thread: ThreadLike) -> Accept | Counter | Reject:
        v = trader_view_of(obs)
        floor = self._floor(v, thread.service)
        assert thread.price is not None
        if floor > v.max_price:
            return Reject(thread_id=thread.id)
        if thread.price >= floor * (1 + self._markup() / 2):
            return Accept(thread_id=thread.id)
        return Counter(thread_id=thread.id, price=self.ask(v, thread.service))


class BudgetBuyer(ScriptedTrader):
    """Buys the cheapest listing it values above the ask, offering the ask; never pays above value.

    "Value" is its ceiling under the policy in force (``Terms.buyer_ceiling``): the value itself
    unless outcome payment refunds part of the price or a report bonus is paid.
    """

    kind = "budget_buyer"
    description = (
        "Buyer: offers the ask of the cheapest listing priced below its value (net of outcome refunds "
        "and report bonus); accepts counters up to it."
    )

    def ask(self, obs: Observation | TraderView, service: str) -> float:
        v = trader_view_of(obs)
        return v.max_price  # never sells in practice

    def _open_thread(self, v: TraderView) -> MakeOffer | None:
        mine = {t.listing_id for t in v.threads}
        best = None
        for li in v.listings:
            if li.service not in v.values or li.id in mine or li.seller == v.agent_id:
                continue
            if li.ask_price <= self._ceiling(v, li.service) and (best is None or li.ask_price < best.ask_price):
                best = li
        return MakeOffer(listing_id=best.id, price=best.ask_price) if best else None

    def bid(self, obs: Observation | TraderView, service: str, ask: float) -> float | None:
        return ask

    def take_as_buyer(self, obs: Observation | TraderView, thread: ThreadLike) -> Accept | Counter | Reject:
        v = trader_view_of(obs)
        assert thread.price is not None
        if thread.price <= self._ceiling(v, thread.service):
            return Accept(thread_id=thread.id)
        return Reject(thread_id=thread.id)

    def take_as_seller(self, obs: Observation | TraderView, thread: ThreadLike) -> Accept | Counter | Reject:
        return Reject(thread_id=thread.id)
