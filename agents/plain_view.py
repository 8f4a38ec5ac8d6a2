"""``PlainView``: what a scripted trader reads in its turn, as plain read-only values, no ``Observation``.

A zero-intelligence trader needs a handful of numbers: the mechanism, the price band, its values
or costs, its units left and the size of its schedule, its balance and the incentive terms in
force. Building an ``Observation`` (a pydantic model with nested models and copies) for each
such agent each round costs more than its whole decision. An agent class that reads only these
sets ``Agent.plain_view``; its ``decide`` then takes a ``PlainView`` or an ``Observation``
(``plain_view_of`` turns the one into the other), so its logic is written once, against this.

The session gives such an agent a view the engine makes from the market's own record of the
member (``sandbox.observe.Observer.plain``: no model, no copies; its mappings are read-only
proxies of the member's) when its turn needs no wake check: an every-round agent with the default
wake rule at the start of a round of a market without sub-steps. Otherwise (a ``wake`` parameter,
sub-steps, a direct call) it gets its observation as before, read through ``PlainView.of``. Both
give the same values (``tests/test_plain_view.py``). The engine's views are made during the
round's turns, when nothing has been applied yet; once the round's actions are about to apply,
reading one raises ``RuntimeError``, as a first read of an on-demand observation's part does.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from operator import attrgetter
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, ClassVar, cast

from agents.incentives import Terms, terms_of

if TYPE_CHECKING:
    from agents.observation import Observation

_set = object.__setattr__
_new = object.__new__


class ReadOnlyView:
    """What the engine's views share (``PlainView``, ``agents.trader_view.TraderView``): never constructed
    (a view's ``make`` fills its writable slotted class and gives it the view's class, no ``__setattr__``
    per field; ``of`` reads an observation), read-only afterwards, shown by the slots named in ``_shown``."""

    __slots__ = ()
    _what: ClassVar[str] = "view"  # for the read-only error: "a plain view is read-only ('...')"
    _shown: ClassVar[tuple[str, ...]] = ()

    def __init__(self) -> None:
        n = type(self).__name__
        raise TypeError(f"a {n} is made by {n}.make (the engine) or {n}.of (an observation)")

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"a {self._what} is read-only ('{name}')")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"a {self._what} is read-only ('{name}')")

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{n}={getattr(self, n)!r}' for n in self._shown)})"


class _Fields:
    """A ``PlainView``'s slots, writable: what ``PlainView.make`` fills before the view becomes read-only."""

    __slots__ = (
        "mechanism",
        "min_price",
        "max_price",
        "values",
        "costs",
        "demand",
        "capacity",
        "balance",
        "terms",
        "_schedule",
    )
    # the fields' types and meanings (PlainView inherits them; ``make`` is checked as it fills them)
    mechanism: str  # the market mechanism (``Observation.market.mechanism``)
    min_price: float  # the price band the market accepts
    max_price: float
    values: Mapping[str, float]  # value of the next unit by service (buyers)
    costs: Mapping[str, float]  # cost of the next unit by service (sellers)
    demand: int  # units still wanted (``Observation.private.demand``)
    capacity: int  # units not yet listed or traded (``Observation.private.capacity``)
    balance: float  # money available now
    terms: Terms  # the incentive policy in force (``agents.incentives.terms_of`` of the observation)
    _schedule: Mapping[str, Sequence[float]]


class PlainView(_Fields, ReadOnlyView):
    """The values a plain-view agent reads (the fields ``_Fields`` declares); read-only (setting one raises
    ``AttributeError``)."""

    __slots__ = ()
    _what = "plain view"
    _shown = _Fields.__slots__

    @staticmethod
    def make(
        mechanism: str,
        min_price: float,
        max_price: float,
        values: Mapping[str, float],
        costs: Mapping[str, float],
        demand: int,
        capacity: int,
        balance: float,
        terms: Terms,
        schedule: Mapping[str, Sequence[float]],
    ) -> PlainView:
        """A view of these values; the caller vouches nothing changes the mappings under it (read-only proxies)."""
        view = _new(_Fields)  # filled as plain slots, then made read-only (a class with no __setattr__ is quicker)
        view.mechanism = mechanism
        view.min_price = min_price
        view.max_price = max_price
        view.values = values
        view.costs = costs
        view.demand = demand
        view.capacity = capacity
        view.balance = balance
        view.terms = terms
        view._schedule = schedule
        _set(view, "__class__", PlainView)
        return cast(PlainView, view)

    @classmethod
    def of(cls, obs: Observation) -> PlainView:
        """The view of an observation: the same values the engine's view of the member gives."""
        market, private = obs.market, obs.private
        return cls.make(
            market.mechanism,
            market.min_price,
            market.max_price,
            MappingProxyType(private.values),
            MappingProxyType(private.costs),
            private.demand,
            private.capacity,
            obs.balance,
            terms_of(obs),
            MappingProxyType(private.schedule),
        )

    def units(self, service: str) -> int:
        """Units in the schedule of ``service`` (0: no schedule)."""
        return len(self._schedule.get(service, ()))


plain_fields: Callable[[PlainView], tuple[Any, ...]] = attrgetter(*_Fields.__slots__)
"""A view's values in its fields' order: ``PlainView.make``'s arguments, as ``Observer.plain_values`` gives them."""

TRUSTED_PLAIN: dict[Callable[..., Any], Callable[..., Any]] = {}
"""Our own agents' ``decide`` functions that only read a ``PlainView``'s values, each with the method (of the
same class) it hands them to one by one, in the view's fields' order. For an agent whose class keeps both (and
whose instance replaces neither) the untraced session calls that method with the member's own values and
mappings (``sandbox.observe.Observer.plain_values``): no view is made, and nothing but our code reads them."""


def plain_view_of(obs: Observation | PlainView) -> PlainView:
    """``obs`` itself if it is a ``PlainView``, else the ``PlainView`` of the observation."""
    return obs if isinstance(obs, PlainView) else PlainView.of(obs)
