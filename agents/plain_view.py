"""``PlainView``: what a scripted trader reads in its turn, as plain read-only values, no ``Observation``.

A zero-intelligence trader needs a handful of numbers: the mechanism, the price band, its values
or costs, its units left and the size of its schedule, its balance and the incentive terms in
force. Building an ``Observation`` (a pydantic model with nested models and copies) for each
such agent each round costs more than its whole decision. An agent class that reads only these
sets ``Agent.plain_view``; its ``decide`` then takes a ``PlainView`` or an ``Observation``
(``plain_view_of`` turns the one into the other, so its logic is written once, against this).

The session gives such an agent a view the engine reads straight from the market's record of
the member (``sandbox.observe.MemberView``: no model, no copies; its mappings are read-only
proxies) when its turn needs no wake check: an every-round agent with the default wake rule at
the start of a round of a market without sub-steps. Otherwise (a ``wake`` parameter, sub-steps,
a direct call) it gets its observation as before, read through ``ObservedView``. Both give the
same values (``tests/test_plain_view.py``). A value read after the round's actions applied is
refused (``RuntimeError``), as a first read of an on-demand observation's part is.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING

from agents.incentives import Terms, terms_of

if TYPE_CHECKING:
    from agents.observation import Observation


class PlainView:
    """The values a plain-view agent reads; ``MemberView`` (the engine's) and ``ObservedView`` implement it."""

    __slots__ = ()

    @property
    def mechanism(self) -> str:
        """The market mechanism (``Observation.market.mechanism``)."""
        raise NotImplementedError

    @property
    def min_price(self) -> float:
        """The lowest price the market accepts."""
        raise NotImplementedError

    @property
    def max_price(self) -> float:
        """The highest price the market accepts."""
        raise NotImplementedError

    @property
    def values(self) -> Mapping[str, float]:
        """Value of the next unit by service (buyers), read-only."""
        raise NotImplementedError

    @property
    def costs(self) -> Mapping[str, float]:
        """Cost of the next unit by service (sellers), read-only."""
        raise NotImplementedError

    @property
    def demand(self) -> int:
        """Units still wanted (``Observation.private.demand``)."""
        raise NotImplementedError

    @property
    def capacity(self) -> int:
        """Units not yet listed or traded (``Observation.private.capacity``)."""
        raise NotImplementedError

    @property
    def balance(self) -> float:
        """Money available now."""
        raise NotImplementedError

    @property
    def terms(self) -> Terms:
        """The incentive policy in force, as numbers (``agents.incentives.terms_of`` of the observation)."""
        raise NotImplementedError

    def units(self, service: str) -> int:
        """Units in the schedule of ``service`` (0: no schedule)."""
        raise NotImplementedError


class ObservedView(PlainView):
    """A ``PlainView`` read from an ``Observation`` (an agent called with one: a wake check ran, or a direct call)."""

    __slots__ = ("obs",)

    def __init__(self, obs: Observation) -> None:
        self.obs = obs

    @property
    def mechanism(self) -> str:
        return self.obs.market.mechanism

    @property
    def min_price(self) -> float:
        return self.obs.market.min_price

    @property
    def max_price(self) -> float:
        return self.obs.market.max_price

    @property
    def values(self) -> Mapping[str, float]:
        return MappingProxyType(self.obs.private.values)

    @property
    def costs(self) -> Mapping[str, float]:
        return MappingProxyType(self.obs.private.costs)

    @property
    def demand(self) -> int:
        return self.obs.private.demand

    @property
    def capacity(self) -> int:
        return self.obs.private.capacity

    @property
    def balance(self) -> float:
        return self.obs.balance

    @property
    def terms(self) -> Terms:
        return terms_of(self.obs)

    def units(self, service: str) -> int:
        return len(self.obs.private.schedule.get(service, ()))


def plain_view_of(obs: Observation | PlainView) -> PlainView:
    """``obs`` itself if it is a ``PlainView``, else the ``PlainView`` of the observation."""
    return obs if isinstance(obs, PlainView) else ObservedView(obs)
