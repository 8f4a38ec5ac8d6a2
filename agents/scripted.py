"""Scripted baselines: simple, documented traders to compare LLM agents against.

Each trader plays either side: as a seller it lists its service and answers offers; as a
buyer it opens threads on listings of a service it values and answers counters. Every
trader delivers what it sold and reports on what it bought (the score is the claimed quality).

The zero-intelligence traders follow Gode and Sunder (1993), put into bilateral form:
a trader draws a random price each time it has to quote, and a deal is struck when the
other side's standing price is at least as good as the fresh draw (the double auction's
"bid meets ask"). ZI-U draws over the whole price band; ZI-C never trades at a loss:
buyers draw below their value, sellers above their cost.
"""

from __future__ import annotations

from collections.abc import Sequence

from agents.base import Agent
from agents.observation import Observation, ThreadInfo
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

    # --- pricing hooks -----------------------------------------------------
    def bid(self, obs: Observation, service: str, ask: float) -> float | None:
        """Price to offer for one unit of ``service`` listed at ``ask`` (None: do not bid)."""
        raise NotImplementedError

    def ask(self, obs: Observation, service: str) -> float:
        """Asking price for a new listing or a counter."""
        raise NotImplementedError

    def take_as_buyer(self, obs: Observation, thread: ThreadInfo) -> Accept | Counter | Reject:
        """Answer a seller's standing price."""
        raise NotImplementedError

    def take_as_seller(self, obs: Observation, thread: ThreadInfo) -> Accept | Counter | Reject:
        """Answer a buyer's standing price."""
        raise NotImplementedError

    # --- the turn ----------------------------------------------------------
    def decide(self, obs: Observation) -> Sequence[ActionBase]:
        """Answer threads that await us, then list or bid if there is room."""
        actions: list[ActionBase] = []
        live_as_buyer = 0
        stocked = {li.id for li in obs.my_listings}
        for t in obs.threads:
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
                        actions.append(self.take_as_seller(obs, t))
                    else:
                        actions.append(MakeOffer(thread_id=t.id, price=self.ask(obs, t.service)))
            else:
                if "report_outcome" in t.your_move:
                    actions.append(ReportOutcome(thread_id=t.id, score=t.quality if t.quality is not None else 1.0))
                elif "accept" in t.your_move:
                    actions.append(self.take_as_buyer(obs, t))
        actions.extend(self._list_services(obs))
        if obs.private.demand > live_as_buyer and live_as_buyer < self.max_live_threads:
            opened = self._open_thread(obs)
            if opened is not None:
                actions.append(opened)
        return actions

    def _list_services(self, obs: Observation) -> list[ActionBase]:
        if obs.private.capacity <= 0 or not obs.private.costs:
            return []
        service = sorted(obs.private.costs)[0]
        return [
            PostService(
                service=service,
                description=f"{service} by {obs.agent_id}",
                ask_price=self.ask(obs, service),
                capacity=obs.private.capacity,
            )
        ]

    def _open_thread(self, obs: Observation) -> MakeOffer | None:
        mine = {t.listing_id for t in obs.threads}
        choices = [
            li
            for li in obs.market.listings
            if li.service in obs.private.values and li.seller != obs.agent_id and li.id not in mine
        ]
        if not choices:
            return None
        listing = self.rng.choice(choices)
        price = self.bid(obs, listing.service, listing.ask_price)
        if price is None:
            return None
        return MakeOffer(listing_id=listing.id, price=price)

    def _band(self, obs: Observation) -> tuple[float, float]:
        return obs.market.min_price, obs.market.max_price

    @staticmethod
    def _cents(x: float) -> float:
        return round(x, 2)


class ZIU(ScriptedTrader):
    """Zero-intelligence unconstrained (Gode and Sunder 1993): random prices over the whole band."""

    kind = "zi_u"
    description = "Zero-intelligence unconstrained: draws every price uniformly over the whole price band."

    def _draw(self, obs: Observation) -> float:
        lo, hi = self._band(obs)
        return self._cents(self.rng.uniform(lo, hi))

    def bid(self, obs: Observation, service: str, ask: float) -> float | None:
        return min(self._draw(obs), obs.balance) if obs.balance >= obs.market.min_price else None

    def ask(self, obs: Observation, service: str) -> float:
        return self._draw(obs)

    def take_as_buyer(self, obs: Observation, thread: ThreadInfo) -> Accept | Counter | Reject:
        draw = self._draw(obs)
        assert thread.price is not None
        return Accept(thread_id=thread.id) if draw >= thread.price else Counter(thread_id=thread.id, price=draw)

    def take_as_seller(self, obs: Observation, thread: ThreadInfo) -> Accept | Counter | Reject:
        draw = self._draw(obs)
        assert thread.price is not None
        return Accept(thread_id=thread.id) if thread.price >= draw else Counter(thread_id=thread.id, price=draw)


class ZIC(ScriptedTrader):
    """Zero-intelligence constrained (Gode and Sunder 1993): random prices that never lose money."""

    kind = "zi_c"
    description = "Zero-intelligence constrained: buyers draw below their value, sellers above their cost."

    def _buy_draw(self, obs: Observation, service: str) -> float | None:
        lo = obs.market.min_price
        hi = min(obs.private.values.get(service, 0.0), obs.balance)
        return self._cents(self.rng.uniform(lo, hi)) if hi >= lo else None

    def _sell_draw(self, obs: Observation, service: str) -> float:
        cost = obs.private.costs.get(service, obs.market.min_price)
        return self._cents(self.rng.uniform(max(cost, obs.market.min_price), obs.market.max_price))

    def bid(self, obs: Observation, service: str, ask: float) -> float | None:
        return self._buy_draw(obs, service)

    def ask(self, obs: Observation, service: str) -> float:
        return self._sell_draw(obs, service)

    def take_as_buyer(self, obs: Observation, thread: ThreadInfo) -> Accept | Counter | Reject:
        draw = self._buy_draw(obs, thread.service)
        assert thread.price is not None
        if draw is None:
            return Reject(thread_id=thread.id)
        return Accept(thread_id=thread.id) if draw >= thread.price else Counter(thread_id=thread.id, price=draw)

    def take_as_seller(self, obs: Observation, thread: ThreadInfo) -> Accept | Counter | Reject:
        draw = self._sell_draw(obs, thread.service)
        assert thread.price is not None
        return Accept(thread_id=thread.id) if thread.price >= draw else Counter(thread_id=thread.id, price=draw)


class MarkupSeller(ScriptedTrader):
    """Asks cost plus a fixed markup; accepts offers at or above cost plus half the markup."""

    kind = "markup_seller"
    description = "Seller: asks cost x (1 + markup), accepts offers >= cost x (1 + markup/2), counters below."

    def _markup(self) -> float:
        return float(self.params.get("markup", 0.2))

    def ask(self, obs: Observation, service: str) -> float:
        cost = obs.private.costs.get(service, obs.market.min_price)
        return self._cents(min(cost * (1 + self._markup()), obs.market.max_price))

    def bid(self, obs: Observation, service: str, ask: float) -> float | None:
        return None  # a pure seller

    def take_as_buyer(self, obs: Observation, thread: ThreadInfo) -> Accept | Counter | Reject:
        return Reject(thread_id=thread.id)

    def take_as_seller(self, obs: Observation, thread: ThreadInfo) -> Accept | Counter | Reject:
        cost = obs.private.costs.get(thread.service, 0.0)
        assert thread.price is not None
        if thread.price >= cost * (1 + self._markup() / 2):
            return Accept(thread_id=thread.id)
        return Counter(thread_id=thread.id, price=self.ask(obs, thread.service))


class BudgetBuyer(ScriptedTrader):
    """Buys the cheapest listing it values above the ask, offering the ask; never pays above value."""

    kind = "budget_buyer"
    description = (
        "Buyer: offers the ask of the cheapest listing priced below its value; accepts counters up to its value."
    )

    def ask(self, obs: Observation, service: str) -> float:
        return obs.market.max_price  # never sells in practice

    def _open_thread(self, obs: Observation) -> MakeOffer | None:
        mine = {t.listing_id for t in obs.threads}
        best = None
        for li in obs.market.listings:
            value = obs.private.values.get(li.service)
            if value is None or li.id in mine or li.seller == obs.agent_id:
                continue
            if li.ask_price <= min(value, obs.balance) and (best is None or li.ask_price < best.ask_price):
                best = li
        return MakeOffer(listing_id=best.id, price=best.ask_price) if best else None

    def bid(self, obs: Observation, service: str, ask: float) -> float | None:
        return ask

    def take_as_buyer(self, obs: Observation, thread: ThreadInfo) -> Accept | Counter | Reject:
        assert thread.price is not None
        if thread.price <= min(obs.private.values.get(thread.service, 0.0), obs.balance):
            return Accept(thread_id=thread.id)
        return Reject(thread_id=thread.id)

    def take_as_seller(self, obs: Observation, thread: ThreadInfo) -> Accept | Counter | Reject:
        return Reject(thread_id=thread.id)
