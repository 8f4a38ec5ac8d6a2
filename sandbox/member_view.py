"""``MemberView``: the engine's ``PlainView`` of a member, for agents that set ``Agent.plain_view``.

``sandbox.observe.Observer.plain`` makes one per agent and round in place of an observation; it
reads the market's own record of the member when a value is read (no model, no copies), while
the observer is open, as an on-demand observation's parts are (``agents/plain_view.py``).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING

from agents.incentives import Terms
from agents.plain_view import PlainView

if TYPE_CHECKING:
    from sandbox.market import Member
    from sandbox.observe import Observer


def units_wanted(m: Member) -> int:
    """Units the member still wants (buyers): ``Private.demand`` in its observation."""
    return max(m.private.demand - m.units_committed, 0)


def units_unlisted(m: Member) -> int:
    """Units the member has not listed or traded yet (sellers): ``Private.capacity`` in its observation."""
    return max(m.private.capacity - m.units_listed, 0)


def late_read(what: str) -> RuntimeError:
    return RuntimeError(
        f"{what} was first read after the round's actions applied; read what an agent needs during its turn "
        "(Agent.on_demand_observation, Agent.plain_view) or keep a copy"
    )


class MemberView(PlainView):
    """The ``PlainView`` of one member, read from the market's own record of it when read (no model, no
    copies: its mappings are read-only proxies of the member's), while the observer is open."""

    __slots__ = ("_o", "_m")

    def __init__(self, observer: Observer, member: Member) -> None:
        self._o = observer
        self._m = member

    def _open(self, what: str) -> Observer:
        o = self._o
        if not o.open:
            raise late_read(f"the plain view's '{what}'")
        return o

    @property
    def mechanism(self) -> str:
        return self._open("mechanism").market.mechanism

    @property
    def min_price(self) -> float:
        return self._open("min_price").min_price

    @property
    def max_price(self) -> float:
        return self._open("max_price").max_price

    @property
    def values(self) -> Mapping[str, float]:
        self._open("values")
        return MappingProxyType(self._m.private.values)

    @property
    def costs(self) -> Mapping[str, float]:
        self._open("costs")
        return MappingProxyType(self._m.private.costs)

    @property
    def demand(self) -> int:
        self._open("demand")
        return units_wanted(self._m)

    @property
    def capacity(self) -> int:
        self._open("capacity")
        return units_unlisted(self._m)

    @property
    def balance(self) -> float:
        return self._open("balance")._balance(self._m)

    @property
    def terms(self) -> Terms:
        return self._open("terms").terms

    def units(self, service: str) -> int:
        self._open("units")
        return len(self._m.private.schedule.get(service, ()))
