"""Observations whose parts are made on first read (``Observer.view``), and the receipts they hold.

``OnDemandObservation`` and ``OnDemandMarketInfo`` stand for the ``Observation`` and ``MarketInfo``
that ``sandbox.observe.Observer.observe`` builds: their costly parts are made by the observer's own
functions when first read, while its round's view is open, and whatever reads a model whole makes
every part first (``tests/test_observe_trusted.py``). A receipt is kept as ``(round, ActionRecord)``
until an agent reads it (``receipt_of``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel

from agents.observation import MarketInfo, Observation, Receipt
from protocols.trusted import builder

if TYPE_CHECKING:
    from sandbox.market import Member
    from sandbox.observe import Observer


def late_read(what: str) -> RuntimeError:
    """The error a first read after the round's actions applied raises (observations on demand, plain views)."""
    return RuntimeError(
        f"{what} was first read after the round's actions applied; read what an agent needs during its turn "
        "(Agent.on_demand_observation, Agent.plain_view) or keep a copy"
    )


ReceiptEntry = Receipt | tuple[int, Any]
"""A receipt, or a pending one: ``(round, ActionRecord)``, made into a ``Receipt`` when an agent reads it."""


def receipt_of(entry: ReceiptEntry) -> Receipt:
    """The ``Receipt`` of a pending ``(round, ActionRecord)`` entry (a ``Receipt`` is returned as is)."""
    if type(entry) is not tuple:
        return entry  # type: ignore[return-value]
    rnd, rec = entry
    verdict = rec.verdict
    return _receipt(  # the engine's own data: built without validation (protocols/trusted.py)
        {
            "round": rnd,
            "action_type": str(rec.action_type),
            "thread_id": rec.thread_id,
            "accepted": bool(verdict.accepted),
            "rule": str(verdict.rule),
            "reason": str(verdict.reason),
        }
    )


_receipt = builder(Receipt)
_set = object.__setattr__


class _OnDemand:
    """A trusted model some of whose fields are made on first read, by ``makers[name](observer, member,
    receipts)`` while the observer is open. Whatever reads the model whole (a dump, a copy, equality,
    ``repr``, iteration, pickling) first makes every field and puts them in declaration order, so it
    sees exactly the model ``Observer.observe`` builds (``tests/test_observe_trusted.py``)."""

    __slots__ = ()
    makers: ClassVar[dict[str, Callable[[Observer, Member, list[ReceiptEntry]], Any]]] = {}
    names: ClassVar[tuple[str, ...]] = ()
    base: ClassVar[type[BaseModel]]  # the plain model it stands for

    def __getattr__(self, name: str) -> Any:
        make = type(self).makers.get(name)
        if make is None:
            return super().__getattr__(name)  # type: ignore[misc]  # pydantic's: privates, extras, the error
        d = self.__dict__
        if name in d:  # pragma: no cover  (found before __getattr__ is asked)
            return d[name]
        observer, member, receipts = object.__getattribute__(self, "_src")
        if not observer.open:
            raise late_read(f"the observation's '{name}'")
        value = d[name] = make(observer, member, receipts)
        return value

    def complete(self) -> None:
        """Make every field not read yet and put them in declaration order."""
        d = self.__dict__
        if len(d) == len(self.names) and tuple(d) == self.names:
            for value in d.values():
                if isinstance(value, _OnDemand):
                    value.complete()
            return
        for name in self.names:
            if name not in d:
                getattr(self, name)
        ordered = {n: d[n] for n in self.names}
        d.clear()
        d.update(ordered)
        for value in ordered.values():
            if isinstance(value, _OnDemand):  # pydantic reads a nested model's fields straight from it
                value.complete()

    def model_dump(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        self.complete()
        return super().model_dump(*args, **kwargs)  # type: ignore[misc]

    def model_dump_json(self, *args: Any, **kwargs: Any) -> str:
        self.complete()
        return super().model_dump_json(*args, **kwargs)  # type: ignore[misc]

    def model_copy(self, *args: Any, **kwargs: Any) -> Any:
        self.complete()
        return super().model_copy(*args, **kwargs)  # type: ignore[misc]

    def __eq__(self, other: object) -> bool:  # equal to the plain model with the same fields, as pydantic compares
        self.complete()
        if not isinstance(other, self.base):
            return NotImplemented
        if isinstance(other, _OnDemand):
            other.complete()
        return (
            self.__dict__ == other.__dict__
            and self.__pydantic_private__ == other.__pydantic_private__
            and self.__pydantic_extra__ == other.__pydantic_extra__
        )

    __hash__ = None  # type: ignore[assignment]

    def __iter__(self) -> Any:
        self.complete()
        return super().__iter__()  # type: ignore[misc]

    def __repr_args__(self) -> Any:
        self.complete()
        return super().__repr_args__()  # type: ignore[misc]

    def __getstate__(self) -> dict[Any, Any]:
        self.complete()
        return super().__getstate__()  # type: ignore[return-value]  # the pydantic model's at run time: a dict

    def __copy__(self) -> Any:
        self.complete()
        return super().__copy__()  # type: ignore[misc]

    def __deepcopy__(self, memo: dict[int, Any] | None = None) -> Any:
        self.complete()
        return super().__deepcopy__(memo)  # type: ignore[misc]


class OnDemandMarketInfo(_OnDemand, MarketInfo):
    """``MarketInfo`` whose listings, recent prices and board are made on first read."""

    __slots__ = ("_src",)
    base: ClassVar[type[BaseModel]] = MarketInfo
    names: ClassVar[tuple[str, ...]] = tuple(MarketInfo.model_fields)
    makers: ClassVar[dict[str, Callable[[Observer, Member, list[ReceiptEntry]], Any]]] = {
        "listings": lambda o, m, r: o._listings(m),
        "recent_prices": lambda o, m, r: o._recent_prices(),
        "board": lambda o, m, r: o._board(m),
    }


def _lazy_market(o: Observer, m: Member, r: list[ReceiptEntry]) -> MarketInfo:
    info = _on_demand_market({"min_price": o.min_price, "max_price": o.max_price, "mechanism": o.market.mechanism})
    _set(info, "_src", (o, m, r))
    return info


class OnDemandObservation(_OnDemand, Observation):
    """``Observation`` whose parts beyond the agent's id, role, round, inbox, notices and reputation are
    made on first read (``Observer.view``): an agent pays for what it reads."""

    __slots__ = ("_src",)
    base: ClassVar[type[BaseModel]] = Observation
    names: ClassVar[tuple[str, ...]] = tuple(Observation.model_fields)
    makers: ClassVar[dict[str, Callable[[Observer, Member, list[ReceiptEntry]], Any]]] = {
        "balance": lambda o, m, r: o._balance(m),
        "private": lambda o, m, r: o._private(m),
        "my_listings": lambda o, m, r: o._my_listings(m),
        "threads": lambda o, m, r: o._threads(m),
        "receipts": lambda o, m, r: [receipt_of(x) for x in r],
        "market": _lazy_market,
        "incentives": lambda o, m, r: o._incentives(),
    }


# made from some of their fields (the rest made on demand, on first read); every field counts as set
_on_demand_observation = builder(OnDemandObservation)
_on_demand_market = builder(OnDemandMarketInfo)
