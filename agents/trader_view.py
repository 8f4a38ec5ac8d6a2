"""``TraderView``: what a negotiating scripted trader reads in its turn, as plain read-only values.

The bilateral traders of ``agents/scripted.py`` (ZI-U, ZI-C, markup sellers, budget buyers) read
more than a zero-intelligence double-auction trader (``agents/plain_view.py``) but still only part
of their observation: their id, the price band, their values or costs, units wanted and unlisted,
their balance, the incentive terms, which of their listings are shown, their negotiation threads
(id, listing, service, side, standing price, the moves open to them, delivered quality) and, for a
buyer with room for a new thread, the listings the market shows them. Building an ``Observation``
(nested pydantic models, copies of every mapping, a ``ThreadInfo`` per thread) for each such agent
each round cost more than the decisions themselves.

An agent class that reads only these sets ``Agent.trader_view``; its ``decide`` then takes a
``TraderView`` or an ``Observation`` (``trader_view_of`` turns the one into the other), so its logic
is written once, against this. The session gives such an agent the engine's view of its member
(``sandbox.observe.Observer.trader``: no model, no copies; mappings are read-only proxies of the
member's, threads are ``ThreadView`` snapshots, the listings are made when first read) when its turn
needs no wake check, as for plain views; otherwise it gets its observation, read through
``TraderView.of``. Both give the same values in the same order (``tests/test_trader_view.py``).
Once the round's actions are about to apply, reading an engine's view raises ``RuntimeError``.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from types import MappingProxyType
from typing import TYPE_CHECKING, Protocol, cast

from agents.incentives import Terms, terms_of
from agents.plain_view import ReadOnlyView

if TYPE_CHECKING:
    from agents.observation import ListingInfo, Observation

_set = object.__setattr__
_new = object.__new__


class ThreadLike(Protocol):
    """What a trader reads of one of its threads: a ``ThreadInfo`` or a ``ThreadView``."""

    @property
    def id(self) -> str: ...
    @property
    def listing_id(self) -> str: ...
    @property
    def service(self) -> str: ...
    @property
    def role(self) -> str: ...
    @property
    def price(self) -> float | None: ...
    @property
    def your_move(self) -> Collection[str]: ...
    @property
    def quality(self) -> float | None: ...


class ThreadView:
    """One thread as its party sees it: the ``ThreadInfo`` fields a trader reads, the same values
    (``your_move`` a tuple, not a list). A snapshot: nothing in the market changes it."""

    __slots__ = ("id", "listing_id", "service", "role", "price", "your_move", "quality")

    def __init__(
        self,
        id: str,  # noqa: A002  (the ThreadInfo field's name)
        listing_id: str,
        service: str,
        role: str,
        price: float | None,
        your_move: tuple[str, ...],
        quality: float | None,
    ) -> None:
        self.id = id
        self.listing_id = listing_id
        self.service = service
        self.role = role
        self.price = price
        self.your_move = your_move
        self.quality = quality

    def __repr__(self) -> str:
        return f"ThreadView({', '.join(f'{n}={getattr(self, n)!r}' for n in ThreadView.__slots__)})"


class _Fields:
    """A ``TraderView``'s slots, writable: what ``TraderView.make`` fills before the view becomes read-only."""

    __slots__ = (
        "agent_id",
        "min_price",
        "max_price",
        "values",
        "costs",
        "demand",
        "capacity",
        "balance",
        "terms",
        "stocked",
        "threads",
        "_listings",
    )
    # the fields' types and meanings (TraderView inherits them; ``make`` is checked as it fills them)
    agent_id: str
    min_price: float  # the price band (``Observation.market``)
    max_price: float
    values: Mapping[str, float]  # value per unit by service (buyers; ``Observation.private``)
    costs: Mapping[str, float]  # cost per unit by service (sellers)
    demand: int  # units still wanted
    capacity: int  # units not yet listed
    balance: float  # money available now
    terms: Terms  # the incentive policy in force (``terms_of`` of the observation)
    stocked: Collection[str]  # ids of the agent's listings its observation shows (``Observation.my_listings``)
    threads: Sequence[ThreadLike]  # its threads, as ``Observation.threads`` lists them
    _listings: Sequence[ListingInfo] | Callable[[], Sequence[ListingInfo]]


class TraderView(_Fields, ReadOnlyView):
    """The values a negotiating trader reads (the fields ``_Fields`` declares); read-only (setting one raises
    ``AttributeError``)."""

    __slots__ = ()
    _what = "trader view"
    _shown = tuple(n for n in _Fields.__slots__ if n != "_listings")  # the listings are made when first read

    @staticmethod
    def make(
        agent_id: str,
        min_price: float,
        max_price: float,
        values: Mapping[str, float],
        costs: Mapping[str, float],
        demand: int,
        capacity: int,
        balance: float,
        terms: Terms,
        stocked: Collection[str],
        threads: Sequence[ThreadLike],
        listings: Callable[[], Sequence[ListingInfo]],
    ) -> TraderView:
        """A view of these values; ``listings`` makes the listings shown when first read. The caller vouches
        that nothing changes the mappings under it (read-only proxies) while it may be read."""
        view = _new(_Fields)  # filled as plain slots, then made read-only (as ``PlainView.make``)
        view.agent_id = agent_id
        view.min_price = min_price
        view.max_price = max_price
        view.values = values
        view.costs = costs
        view.demand = demand
        view.capacity = capacity
        view.balance = balance
        view.terms = terms
        view.stocked = stocked
        view.threads = threads
        view._listings = listings
        _set(view, "__class__", TraderView)
        return cast(TraderView, view)

    @classmethod
    def of(cls, obs: Observation) -> TraderView:
        """The view of an observation: the same values the engine's view of the member gives. The market's
        listings are read from the observation when the view's are first read."""
        market, private = obs.market, obs.private
        return cls.make(
            obs.agent_id,
            market.min_price,
            market.max_price,
            MappingProxyType(private.values),
            MappingProxyType(private.costs),
            private.demand,
            private.capacity,
            obs.balance,
            terms_of(obs),
            frozenset(li.id for li in obs.my_listings),
            tuple(obs.threads),
            lambda: market.listings,
        )

    @property
    def listings(self) -> Sequence[ListingInfo]:
        """The market's listings shown to the agent (``Observation.market.listings``), made on first read."""
        found = self._listings
        if callable(found):
            found = found()
            _set(self, "_listings", found)
        return found


def trader_view_of(obs: Observation | TraderView) -> TraderView:
    """``obs`` itself if it is a ``TraderView``, else the ``TraderView`` of the observation."""
    return obs if isinstance(obs, TraderView) else TraderView.of(obs)
