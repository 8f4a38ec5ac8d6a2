"""``quick_init`` keeps a frozen dataclass's instances what the dataclass's own ``__init__`` made."""

from __future__ import annotations

import dataclasses
import pickle

import pytest

from protocols.detectors import ActFact, TradeFact
from protocols.market_rules import Order
from protocols.quick_init import quick_init
from protocols.settlement import Posting, SettlementPlan
from protocols.verdict import ACCEPTED, Rule, Verdict
from sandbox.ledger import Entry
from sandbox.market import Deal


@dataclasses.dataclass(frozen=True, slots=True)
class Plain:
    a: int
    b: str = "x"
    c: tuple[int, ...] = ()


Quick = quick_init(
    dataclasses.make_dataclass("Quick", [("a", int), ("b", str, "x"), ("c", tuple, ())], frozen=True, slots=True)
)


def test_the_same_fields_defaults_and_keywords() -> None:
    for args, kwargs in (((1,), {}), ((1, "y"), {}), ((), {"a": 2, "c": (3,)}), ((4,), {"b": "z"})):
        got, want = Quick(*args, **kwargs), Plain(*args, **kwargs)
        assert dataclasses.astuple(got) == dataclasses.astuple(want)  # type: ignore[call-overload]
        assert repr(got).replace("Quick", "Plain") == repr(want)
        assert got == Quick(*args, **kwargs) and hash(got) == hash(Quick(*args, **kwargs))
    with pytest.raises(TypeError):
        Quick()
    with pytest.raises(TypeError):
        Quick(1, "x", (), 4)
    with pytest.raises(TypeError):
        Quick(1, d=2)
    with pytest.raises(dataclasses.FrozenInstanceError):
        Quick(1).a = 2  # type: ignore[misc]


def test_the_engines_records_made_quicker_are_the_same() -> None:
    v = Verdict.reject(Rule.FUNDS, "short")
    assert (v.accepted, v.rule, v.reason, v.redactions, v.flags) == (False, "funds", "short", (), ())
    assert v == Verdict(False, "funds", "short") and ACCEPTED == Verdict(True, "ok", "accepted")
    assert dataclasses.replace(v, reason="other").reason == "other"
    for made in (
        v,
        Order("a", 5, 0),
        Posting("x", "y", 3, "fee"),
        Entry(1, 2, "x", "y", 3, "fee", None),
        SettlementPlan((Posting("x", "y", 3, "fee"),), 3, 0, 0, 0, 0, 0, 0),
        ActFact(1, 2, "a", "place_order", True, "ok"),
        ActFact(1, 3, "a", "offer", False, "funds", ("f",), "t-1"),
        TradeFact(1, 1, "b", "s", "widget", 5.0, None, None),
    ):
        assert pickle.loads(pickle.dumps(made)) == made
    assert Order("a", 5, 0).seq == 0 and Deal(None, "settled", 1, 0, 1).value is None  # type: ignore[arg-type]


def test_classes_it_cannot_make_quicker() -> None:
    @dataclasses.dataclass(frozen=True)
    class NoSlots:
        a: int

    @dataclasses.dataclass(slots=True)
    class NotFrozen:
        a: int

    @dataclasses.dataclass(frozen=True, slots=True)
    class Factory:
        a: list[int] = dataclasses.field(default_factory=list)

    @dataclasses.dataclass(frozen=True, slots=True)
    class PostInit:
        a: int

        def __post_init__(self) -> None:
            pass

    for cls in (NoSlots, NotFrozen, Factory, PostInit):
        with pytest.raises(TypeError):
            quick_init(cls)
