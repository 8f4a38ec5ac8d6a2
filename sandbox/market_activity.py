"""The parts of ``MarketView`` the safety layer reads, kept beside the market as a mixin.

``Market`` inherits ``SafetyViewMixin``: it counts each agent's accepted actions, messages
and escrowed money per round, answers profile and reference-price questions, and holds the
set of scopes halted by market-wide breakers. Throttles live on ``Member.action_cap``.
"""

from __future__ import annotations

from collections import Counter, deque
from statistics import median
from typing import TYPE_CHECKING

from protocols.actions import Accept, ActionBase, Message, PostService
from protocols.state import Activity, Listing, Profile, Thread
from protocols.trusted import field_or_none

if TYPE_CHECKING:
    from sandbox.market import Member


class SafetyViewMixin:
    """Per-round activity counters and the safety parts of ``MarketView``.

    ``activity`` is cached per agent until the next applied action (or round); state changed
    outside ``note_applied`` + ``apply`` within a round (a throttle set mid-round) needs
    ``invalidate_activity``.
    """

    reference_min_deals = 3  # deals needed before a service has a reference price
    # what the mixin reads of the market it is mixed into (``MarketBase.__init__`` sets them)
    round: int
    members: dict[str, Member]
    listings: dict[str, Listing]
    threads: dict[str, Thread]
    recent_prices: dict[str, deque[float]]

    def _activity_reset(self) -> None:
        if getattr(self, "_activity_round", None) != self.round:
            self._activity_round = self.round
            self._acted: Counter[str] = Counter()
            self._messaged: Counter[str] = Counter()
            self._spent: Counter[str] = Counter()
            self._activity_cache: dict[str, Activity] = {}

    def note_applied(self, action: ActionBase, who: str) -> None:
        """Count an accepted action before it is applied (the price of an accept is the standing offer)."""
        self._activity_reset()
        self._forget(action, who)  # the action is about to change these agents' threads and listings
        self._acted[who] += 1
        if isinstance(action, Message):
            self._messaged[who] += 1
        elif isinstance(action, Accept):
            t = self.threads.get(action.thread_id)
            if t is not None and t.price_micros is not None:
                self._spent[t.buyer] += t.price_micros

    def note_order(self, who: str) -> None:
        """``note_applied`` of an action about no thread or listing that is not a message or a listing (a
        double-auction order): counted, and every cached activity forgotten (it may touch anyone)."""
        self._activity_reset()
        self._activity_cache.clear()
        self._acted[who] = self._acted.get(who, 0) + 1  # ``Counter``'s ``+= 1`` without its ``__missing__`` call

    def _forget(self, action: ActionBase, who: str) -> None:
        cache = self._activity_cache
        cache.pop(who, None)
        thread_id = field_or_none(action, "thread_id")
        t = self.threads.get(thread_id) if thread_id else None
        if t is not None:
            cache.pop(t.buyer, None)
            cache.pop(t.seller, None)
        listing_id = field_or_none(action, "listing_id")
        li = self.listings.get(listing_id) if listing_id else None
        if li is not None:
            cache.pop(li.seller, None)
        elif not isinstance(action, (Message, PostService)) and t is None:
            cache.clear()  # an action of another mechanism may touch anyone: forget everything

    def invalidate_activity(self) -> None:
        """Forget cached activity (after changing throttles or state outside ``apply``)."""
        self._activity_reset()
        self._activity_cache.clear()

    @property
    def halted(self) -> set[str]:
        """Scopes halted now (``service:<name>``, ``messages``); the safety layer edits this set."""
        if not hasattr(self, "_halted"):
            self._halted: set[str] = set()
        return self._halted

    def profile(self, agent_id: str) -> Profile | None:
        """The agent's role and private values or costs."""
        cache: dict[str, Profile] = self.__dict__.setdefault("_profiles", {})
        if agent_id not in cache:  # roles, values and costs do not change during a run
            m = self.members.get(agent_id)
            if m is None:
                return None
            cache[agent_id] = Profile(m.role, dict(m.private.values), dict(m.private.costs))
        return cache[agent_id]

    def activity(self, agent_id: str) -> Activity:
        """The agent's activity this round and any throttle on it."""
        self._activity_reset()
        cached = self._activity_cache.get(agent_id)
        if cached is not None:
            return cached
        m = self.members.get(agent_id)
        if m is None:
            return Activity()
        self._activity_cache[agent_id] = out = Activity(
            actions=self._acted[agent_id],
            messages=self._messaged[agent_id],
            spent_micros=self._spent[agent_id],
            live_threads=len(m.threads),
            open_listings=sum(1 for li in m.listings.values() if li.remaining > 0),
            action_cap=getattr(m, "action_cap", None),
        )
        return out

    def spenders(self) -> set[str]:
        """Members who committed money this round: those whose ``activity(aid).spent_micros`` is not 0."""
        self._activity_reset()
        return {aid for aid, spent in self._spent.items() if spent and aid in self.members}

    def reference_price(self, service: str) -> float | None:
        """Median of the service's recent settled prices (None with too few deals)."""
        prices = self.recent_prices.get(service)
        if not prices or len(prices) < self.reference_min_deals:
            return None
        return float(median(prices))

    def action_cap_of(self, agent_id: str) -> int | None:
        """The throttle on an agent now (``activity(agent_id).action_cap`` without the rest)."""
        m = self.members.get(agent_id)
        return None if m is None else m.action_cap

    def nothing_halted(self) -> bool:
        """Whether no scope is halted (``is_halted`` is then False for every scope)."""
        return not self.halted

    def is_halted(self, scope: str) -> bool:
        """Whether a market-wide breaker has halted this scope."""
        return scope in self.halted
