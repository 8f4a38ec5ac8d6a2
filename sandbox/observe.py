"""Building each agent's bounded ``Observation`` from the market at the start of a round.

The public part (listings by service, recent prices, the policy) is computed once per
round and shared; the private part is a handful of lookups per agent.

The market's own state is trusted: observations are built with ``protocols.trusted`` (no
validation), with the same field types validation would give and the same copies (every
dict and list an agent gets is its own; listings and messages, as before, are shared
read-only models). ``tests/test_observe_trusted.py`` checks them against validated ones.

An agent that reads only a few numbers (``Agent.plain_view``) may get no observation at all but a
read-only ``agents.plain_view.PlainView`` of its member (``Observer.plain``; ``tests/test_plain_view.py``).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType
from typing import Any

from agents.incentives import Terms
from agents.observation import (
    ListingInfo,
    MarketInfo,
    Observation,
    ObservationLimits,
    Private,
    ThreadInfo,
)
from agents.plain_view import PlainView
from agents.trader_view import ThreadView, TraderView
from protocols.constraints import ProtocolConfig
from protocols.dialogue import allowed_moves, move
from protocols.settlement import rank_price
from protocols.state import Listing, Thread
from protocols.trusted import builder, trusted
from sandbox.market import Market, Member
from sandbox.on_demand import (  # re-exported: the on-demand parts of observations, and receipts
    OnDemandMarketInfo,
    OnDemandObservation,
    ReceiptEntry,
    _on_demand_observation,
    late_read,
    receipt_of,
)


def listing_info(li: Listing, reputation: float | None = None) -> ListingInfo:
    """The public face of a listing."""
    return trusted(
        ListingInfo,
        id=li.id,
        seller=li.seller,
        service=li.service,
        description=li.description,
        ask_price=li.ask_micros / 1e6,
        remaining=li.remaining,
        reputation=None if reputation is None else float(reputation),
    )


_private = builder(Private)
_market_info = builder(MarketInfo)
_observation = builder(Observation)

_MOVES: dict[tuple[object, bool, bool], tuple[str, ...]] = {}


def moves_of(t: Thread, me: str) -> tuple[str, ...]:
    """Action types (other than messages) that ``me`` may send on ``t`` now, memoised by position (shared)."""
    key = (t.state, me == t.buyer, me == t.proposer)
    found = _MOVES.get(key)
    if found is None:
        found = _MOVES[key] = tuple(k for k in allowed_moves(t.state) if k != "message" and move(t, k, me)[0].accepted)
    return found


def your_moves(t: Thread, me: str) -> list[str]:
    """``moves_of`` as the agent's own list (``ThreadInfo.your_move``)."""
    return list(moves_of(t, me))


def thread_info(t: Thread, me: str) -> ThreadInfo:
    """A thread as one of its parties sees it, with the moves open to that party."""
    yours = your_moves(t, me)
    return trusted(
        ThreadInfo,
        id=t.id,
        listing_id=t.listing_id,
        service=t.service,
        role="buyer" if me == t.buyer else "seller",
        counterparty=t.other(me),
        state=t.state._value_,  # the enum's value without the descriptor lookup (~1 us) .value costs
        price=None if t.price_micros is None else t.price_micros / 1e6,
        offered_by_you=t.proposer == me,
        your_move=yours,
        quality=None if t.quality is None else float(t.quality),
        opened_round=t.opened_round,
        last_move_round=t.last_move_round,
    )


class Observer:
    """Makes observations for one round; create a new one each round."""

    def __init__(
        self,
        market: Market,
        config: ProtocolConfig,
        incentives: Mapping[str, Any],
        rounds_total: int,
        limits: ObservationLimits | None = None,
    ) -> None:
        self.market = market
        self.limits = limits or ObservationLimits()
        self.rounds_total = rounds_total
        self.incentives = dict(incentives)
        by_service: dict[str, list[ListingInfo]] = {}
        self.policy = policy = market.policy
        rep = market.reputation_of
        # buyers see listings by rank price: the ask, inflated by low reputation (the policy's weight)
        ranked = sorted(
            (x for x in market.listings.values() if x.remaining > 0),
            key=lambda x: (rank_price(x.ask_micros / 1e6, rep(x.seller), policy), x.id),
        )
        for li in ranked:
            by_service.setdefault(li.service, []).append(listing_info(li, rep(li.seller)))
        self.by_service = by_service
        # where each seller's own listings sit in each service's list: an agent selling nothing there
        # sees the list as it is, a seller the list without its own (found by position, not by a copy)
        self._sellers: dict[str, dict[str, list[int]]] = {}
        for svc, lis in by_service.items():
            at = self._sellers[svc] = {}
            for i, info in enumerate(lis):
                at.setdefault(info.seller, []).append(i)
        self.public = {
            s: [float(x) for x in list(p)[-self.limits.recent_prices :]]
            for s, p in sorted(market.recent_prices.items())
        }
        self.min_price, self.max_price = float(config.min_price), float(config.max_price)
        self.open = True  # parts of on-demand views may still be made (``close``)
        self.terms = Terms.of(self.incentives)  # what ``terms_of`` makes of any of its observations
        self._plain: list[PlainView | TraderView] = []  # the plain and trader views made: closed with the observer

    def _shown(
        self, ranked: Sequence[ListingInfo], me: str, sellers: Mapping[str, list[int]] | None = None
    ) -> list[ListingInfo]:
        """The listings one agent sees: the best half of its slots, plus a rotating window.

        Showing every buyer the same few best listings makes a large market pile onto them;
        the window over the rest starts at a place fixed by (agent, round), so each agent
        sees a different slice each round, deterministically. Rank order is kept. ``sellers``:
        where each seller's listings sit in ``ranked`` (found here when not given).

        The window is taken over ``ranked`` without the agent's own listings; that list is not
        built (a copy of every listing for each agent made a large market quadratic): a position
        in it is mapped to ``ranked`` past the agent's own few.
        """
        k = self.limits.listings
        own = sellers.get(me, ()) if sellers is not None else [i for i, li in enumerate(ranked) if li.seller == me]
        n = len(ranked) - len(own)
        at: Callable[[int], ListingInfo]
        if not own:
            if n <= k:
                return list(ranked)
            at = ranked.__getitem__
        else:

            def at(j: int) -> ListingInfo:
                for p in own:  # ascending positions of the agent's own listings
                    if p <= j:
                        j += 1
                    else:
                        break
                return ranked[j]

            if n <= k:
                return [at(j) for j in range(n)]
        head = k // 2
        rest = n - head
        start = zlib.crc32(f"{me}/{self.market.round}".encode()) % rest
        picked = sorted(head + (start + i) % rest for i in range(k - head))
        return [at(j) for j in range(head)] + [at(i) for i in picked]

    # --- the parts of an observation, one function each (``observe`` and ``view`` share them) ---------
    def _private(self, m: Member) -> Private:
        p = m.private  # a validated model: its own copies are handed out, as validation made them
        return _private(
            {
                "values": dict(p.values),
                "costs": dict(p.costs),
                "demand": units_wanted(m),
                "capacity": units_unlisted(m),
                "schedule": {k: list(v) for k, v in p.schedule.items()},
                "quality": p.quality,
            }
        )

    def _balance(self, m: Member) -> float:
        return self.market.available_micros(m.id) / 1e6

    def _my_listings(self, m: Member) -> list[ListingInfo]:
        return [listing_info(li) for li in m.listings.values() if li.remaining > 0][: self.limits.listings]

    def _threads(self, m: Member) -> list[ThreadInfo]:
        threads = sorted(m.threads.values(), key=_recent, reverse=True)
        return [thread_info(t, m.id) for t in threads[: self.limits.threads]]

    def _listings(self, m: Member) -> list[ListingInfo]:
        services = sorted(set(m.private.values) | set(m.private.costs))
        seen: list[ListingInfo] = []
        for s in services:
            seen.extend(self._shown(self.by_service.get(s, ()), m.id, self._sellers.get(s)))
        if len(services) > 1:  # each service's list is already in rank order
            seen.sort(key=lambda li: (rank_price(li.ask_price, li.reputation, self.policy), li.id))
        return seen[: self.limits.listings]

    def _recent_prices(self) -> dict[str, list[float]]:
        return {k: v[:] for k, v in self.public.items()}

    def _board(self, m: Member) -> dict[str, Any]:
        return dict(self.market.board_for(m))

    def _incentives(self) -> dict[str, Any]:
        return dict(self.incentives)

    def _consume(self, m: Member, notices: Sequence[str]) -> tuple[list[str], list[Any]]:
        """The member's notices and inbox, bounded; they are consumed (cleared) here."""
        lim = self.limits
        all_notices = [*m.notices, *notices][-lim.notices :]
        inbox = list(m.inbox)[-lim.inbox :]
        m.notices.clear()
        m.inbox.clear()
        return all_notices, inbox

    def _market_info(self, m: Member) -> MarketInfo:
        return _market_info(
            {
                "listings": self._listings(m),
                "recent_prices": self._recent_prices(),
                "min_price": self.min_price,
                "max_price": self.max_price,
                "mechanism": self.market.mechanism,
                "board": self._board(m),
            }
        )

    def observe(self, m: Member, receipts: Sequence[ReceiptEntry], notices: Sequence[str] = ()) -> Observation:
        """The observation of member ``m``, every part made now; consumes its inbox and notices.

        ``receipts``: ``Receipt`` models or pending ``(round, ActionRecord)`` entries (``receipt_of``).
        """
        all_notices, inbox = self._consume(m, notices)
        market = self.market
        return _observation(  # every field, in declaration order (tests/test_observe_trusted.py)
            {
                "agent_id": m.id,
                "role": m.role,
                "round": market.round,
                "rounds_left": max(self.rounds_total - market.round, 0),
                "balance": self._balance(m),
                "private": self._private(m),
                "my_listings": self._my_listings(m),
                "threads": self._threads(m),
                "inbox": inbox,
                "receipts": [receipt_of(r) for r in list(receipts)[-self.limits.receipts :]],
                "market": self._market_info(m),
                "incentives": self._incentives(),
                "notices": all_notices,
                "reputation": None if m.reputation is None else float(m.reputation),
            }
        )

    def view(self, m: Member, receipts: Sequence[ReceiptEntry], notices: Sequence[str] = ()) -> Observation:
        """The same observation as ``observe``, its costly parts made when first read (``OnDemandObservation``).

        The inbox and notices are consumed now, as ``observe`` does. The parts read the market as it is
        when they are read, so they may be read only while this round's view is open: ``close`` (called
        by the session before the round's actions apply) makes a later first read raise ``RuntimeError``
        rather than show an agent the market after its actions.
        """
        all_notices, inbox = self._consume(m, notices)
        market = self.market
        obs = _on_demand_observation(
            {
                "agent_id": m.id,
                "role": m.role,
                "round": market.round,
                "rounds_left": max(self.rounds_total - market.round, 0),
                "inbox": inbox,
                "notices": all_notices,
                "reputation": None if m.reputation is None else float(m.reputation),
            }
        )
        _set(obs, "_src", (self, m, list(receipts)[-self.limits.receipts :]))
        return obs

    def plain(self, m: Member, receipts: Sequence[ReceiptEntry] = (), notices: Sequence[str] = ()) -> PlainView:
        """The member's ``PlainView`` (an agent that sets ``Agent.plain_view``), read from the market's own record:
        no model and no copies (its mappings are read-only proxies of the member's; nothing changes them
        before ``close``, which makes a later read raise). The inbox and notices are consumed, and the
        receipts dropped, as an on-demand observation whose agent never reads them does."""
        mechanism, lo, hi, values, costs, demand, capacity, balance, terms, schedule = self.plain_values(m)
        view = PlainView.make(
            mechanism,
            lo,
            hi,
            MappingProxyType(values),
            MappingProxyType(costs),
            demand,
            capacity,
            balance,
            terms,
            MappingProxyType(schedule),  # read by ``units`` only
        )
        self._plain.append(view)
        return view

    def plain_values(self, m: Member, receipts: Sequence[ReceiptEntry] = ()) -> tuple[Any, ...]:
        """The values ``plain`` would put in the member's ``PlainView``, in its fields' order, its mappings the
        member's own (no proxies, no view): for an agent whose ``decide`` is our code that only reads them
        (``sandbox.turns.trusted_plain``); the inbox and notices are consumed as ``plain`` consumes them."""
        if m.notices:
            m.notices.clear()
        if m.inbox:
            m.inbox.clear()
        p = m.private.__dict__  # its fields' values, read as the dict they are (a pydantic attribute read is slower)
        wanted = p["demand"] - m.units_committed  # ``units_wanted`` and ``units_unlisted``, inline (per agent)
        unlisted = p["capacity"] - m.units_listed
        return (
            self.market.mechanism,
            self.min_price,
            self.max_price,
            p["values"],
            p["costs"],
            0 if wanted < 0 else wanted,
            0 if unlisted < 0 else unlisted,
            self.market.available_micros(m.id) / 1e6,
            self.terms,
            p["schedule"],
        )

    def trader(self, m: Member, receipts: Sequence[ReceiptEntry] = (), notices: Sequence[str] = ()) -> TraderView:
        """The member's ``TraderView`` (an agent that sets ``Agent.trader_view``), read from the market's own
        record as ``plain`` reads a ``PlainView``: the listings its observation would show are made when first
        read, its threads are ``ThreadView`` snapshots in the observation's order. The inbox and notices are
        consumed, and the receipts dropped, as an on-demand observation whose agent never reads them does."""
        if m.notices:
            m.notices.clear()
        if m.inbox:
            m.inbox.clear()
        p, me, lim = m.private, m.id, self.limits
        threads = sorted(m.threads.values(), key=_recent, reverse=True)[: lim.threads] if m.threads else ()
        view = TraderView.make(
            me,
            self.min_price,
            self.max_price,
            MappingProxyType(p.values),
            MappingProxyType(p.costs),
            max(p.demand - m.units_committed, 0),  # units_wanted and units_unlisted, inline
            max(p.capacity - m.units_listed, 0),
            self.market.available_micros(me) / 1e6,
            self.terms,
            [li.id for li in m.listings.values() if li.remaining > 0][: lim.listings] if m.listings else (),
            [
                ThreadView(
                    t.id,
                    t.listing_id,
                    t.service,
                    "buyer" if me == t.buyer else "seller",
                    None if t.price_micros is None else t.price_micros / 1e6,
                    moves_of(t, me),
                    None if t.quality is None else float(t.quality),
                )
                for t in threads
            ],
            lambda: self._listings(m),
        )
        self._plain.append(view)
        return view

    def close(self) -> None:
        """The round's actions are about to apply: parts of views not read yet can no longer be made, and the
        plain views made can no longer be read."""
        self.open = False
        for view in self._plain:
            _set(view, "__class__", _ClosedView if type(view) is PlainView else _ClosedTraderView)
        self._plain.clear()


def units_wanted(m: Member) -> int:
    """Units the member still wants (buyers): ``Private.demand`` in its observation."""
    return max(m.private.demand - m.units_committed, 0)


def units_unlisted(m: Member) -> int:
    """Units the member has not listed or traded yet (sellers): ``Private.capacity`` in its observation."""
    return max(m.private.capacity - m.units_listed, 0)


class _ClosedView(PlainView):
    """A plain view once the round's actions are about to apply (``Observer.close``): every read raises."""

    __slots__ = ()

    def __getattribute__(self, name: str) -> Any:
        raise late_read(f"the plain view's '{name}'")


class _ClosedTraderView(TraderView):
    """A trader view once the round's actions are about to apply (``Observer.close``): every read raises."""

    __slots__ = ()

    def __getattribute__(self, name: str) -> Any:
        raise late_read(f"the trader view's '{name}'")


def _recent(t: Thread) -> tuple[int, str]:
    """A thread's place in an observation: the most recently moved first (sorted in reverse), then by id."""
    return t.last_move_round, t.id


_set = object.__setattr__

__all__ = [
    "Observer",
    "OnDemandMarketInfo",
    "OnDemandObservation",
    "ReceiptEntry",
    "late_read",
    "listing_info",
    "moves_of",
    "receipt_of",
    "thread_info",
    "units_unlisted",
    "units_wanted",
    "your_moves",
]
