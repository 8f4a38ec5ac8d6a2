"""Observations are built without validation (``protocols.trusted``): they must be exactly what
validation would have made, in every built-in scenario, and every dict and list an agent gets
must be its own (an agent that mutates its observation changes nothing another agent sees)."""

from __future__ import annotations

from typing import Any

import pytest

import sandbox.session as session_mod
import sandbox.turns as turns_mod
from agents.observation import Observation
from protocols.trusted import trusted
from sandbox.observe import Observer
from sandbox.scenario import builtin_names, load_scenario
from sandbox.session import Session


@pytest.mark.parametrize("name", builtin_names())
def test_trusted_observations_equal_validated_ones(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[Observation] = []
    monkeypatch.setattr(turns_mod, "TRUSTED_PLAIN", {})  # our ZI traders too take ``plain`` (an observation here)

    class Checking(Observer):
        def observe(self, *args: Any, **kwargs: Any) -> Observation:
            obs = super().observe(*args, **kwargs)
            again = Observation.model_validate(obs.model_dump())
            assert obs.model_dump_json() == again.model_dump_json()
            assert obs.model_fields_set == again.model_fields_set
            assert obs.market.model_fields_set == again.market.model_fields_set
            assert obs.private.model_fields_set == again.private.model_fields_set
            seen.append(obs)
            return obs

        def view(self, *args: Any, **kwargs: Any) -> Observation:  # the same parts (checked below): built here
            return self.observe(*args, **kwargs)

        def plain(self, *args: Any, **kwargs: Any) -> Observation:  # type: ignore[override]  # (tests/test_plain_view.py)
            return self.observe(*args, **kwargs)

        def trader(self, *args: Any, **kwargs: Any) -> Observation:  # type: ignore[override]  # (tests/test_trader_view.py)
            return self.observe(*args, **kwargs)

    monkeypatch.setattr(session_mod, "Observer", Checking)
    sc = load_scenario(name)
    Session(sc, rounds=min(sc.rounds, 6), tracing=False).run()
    assert seen
    assert any(o.market.listings or o.market.board or o.threads for o in seen)


def test_observations_do_not_share_mutable_parts() -> None:
    s = Session(load_scenario("services"), rounds=3, tracing=False)
    s.run()
    members = list(s.market.members.values())
    obs = Observer(s.market, s.protocol.config, s.policy.model_dump(), s.scenario.rounds)
    a, b = obs.observe(members[0], ()), obs.observe(members[1], ())
    for x, y in (
        (a.incentives, b.incentives),
        (a.market.recent_prices, b.market.recent_prices),
        (a.market.board, b.market.board),
        (a.private.values, members[0].private.values),
        (a.private.costs, members[0].private.costs),
        (a.private.schedule, members[0].private.schedule),
    ):
        assert x is not y
    a.incentives["fee_rate"] = 0.99
    a.private.values["x"] = 1.0
    assert b.incentives.get("fee_rate") != 0.99
    assert "x" not in members[0].private.values


def test_trusted_refuses_unknown_fields_and_fills_defaults() -> None:
    from agents.observation import Receipt

    with pytest.raises(TypeError):
        trusted(Receipt, round=1, action_type="x", accepted=True, rule="ok", reason="", bogus=1)
    r = trusted(Receipt, round=1, action_type="x", accepted=True, rule="ok", reason="")
    assert r.thread_id is None and r.model_fields_set == {"round", "action_type", "accepted", "rule", "reason"}
    assert list(r.model_dump()) == list(Receipt.model_fields)


def test_field_or_none_answers_as_getattr_does() -> None:
    from pydantic import ConfigDict

    from protocols.actions import ActionBase, MakeOffer, PlaceOrder
    from protocols.trusted import field_or_none

    class WithProperty(ActionBase):
        type: str = "odd"

        @property
        def thread_id(self) -> str:
            return "T-hidden"

    class WithExtra(ActionBase):
        model_config = ConfigDict(extra="allow")
        type: str = "odd2"

    order = PlaceOrder(side="buy", service="w", price=3.0)
    offer = MakeOffer(price=1.0, thread_id="T1")
    extra = WithExtra(listing_id="L9")  # type: ignore[call-arg]
    objects: list[object] = [order, offer, WithProperty(), extra, object(), {"thread_id": "x"}]
    for obj in objects:
        for name in ("thread_id", "listing_id", "service", "price", "type"):
            assert field_or_none(obj, name) == getattr(obj, name, None), (obj, name)
    assert field_or_none(WithProperty(), "thread_id") == "T-hidden"
    assert field_or_none(extra, "listing_id") == "L9"


def _shown_by_copy(ranked: list[Any], me: str, k: int, round_: int) -> list[Any]:
    """The window as it was computed before: over a filtered copy of the whole list."""
    import zlib

    others = [li for li in ranked if li.seller != me]
    if len(others) <= k:
        return others
    head = k // 2
    rest = len(others) - head
    start = zlib.crc32(f"{me}/{round_}".encode()) % rest
    picked = sorted(head + (start + i) % rest for i in range(k - head))
    return others[:head] + [others[i] for i in picked]


def test_the_window_without_a_copy_is_the_window_over_a_copy() -> None:
    import random

    from agents.observation import ListingInfo

    s = Session(load_scenario("services"), rounds=1, tracing=False)
    s.run()
    rng = random.Random(7)
    for trial in range(400):
        n_sellers = rng.randint(1, 8)
        ranked = [
            ListingInfo(id=f"L{i}", seller=f"s{rng.randrange(n_sellers)}", service="x", ask_price=1.0, remaining=1)
            for i in range(rng.randint(0, 40))
        ]
        obs = Observer(s.market, s.protocol.config, {}, 10)
        positions: dict[str, list[int]] = {}
        for i, li in enumerate(ranked):
            positions.setdefault(li.seller, []).append(i)
        for me in ("s0", "s1", "buyer-x"):
            want = _shown_by_copy(ranked, me, obs.limits.listings, s.market.round)
            assert obs._shown(ranked, me, positions) == want, trial
            assert obs._shown(ranked, me) == want, trial


@pytest.mark.parametrize("name", builtin_names())
def test_on_demand_observations_equal_built_ones(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """``Observer.view`` (parts made when first read) gives what ``observe`` gives, whatever is read first."""
    monkeypatch.setattr(turns_mod, "TRUSTED_PLAIN", {})  # our ZI traders too take ``plain`` (a view here)
    import copy
    import pickle

    checked: list[str] = []

    class Checking(Observer):
        def view(self, m: Any, receipts: Any, notices: Any = ()) -> Observation:
            saved = (list(m.notices), list(m.inbox))
            built = self.observe(m, receipts, notices)

            def fresh() -> Observation:
                m.notices.extend(saved[0])
                m.inbox.extend(saved[1])
                return super(Checking, self).view(m, receipts, notices)

            for first in (None, "private", "market", "receipts", "threads"):  # one part read before the whole
                lazy = fresh()
                assert type(lazy).__name__ == "OnDemandObservation"
                if first is not None:
                    assert getattr(lazy, first) == getattr(built, first)
                assert lazy.model_dump_json() == built.model_dump_json()
                assert lazy == built and built == lazy
                assert lazy.model_fields_set == built.model_fields_set
            assert fresh().model_dump() == built.model_dump()
            assert copy.deepcopy(fresh()) == built and pickle.loads(pickle.dumps(fresh())) == built
            assert fresh().market.model_dump_json() == built.market.model_dump_json()
            checked.append(m.id)
            return fresh()

        def plain(self, m: Any, receipts: Any, notices: Any = ()) -> Observation:  # type: ignore[override]
            return self.view(m, receipts, notices)  # a plain-view agent reads an observation too (its wake check)

        def trader(self, m: Any, receipts: Any, notices: Any = ()) -> Observation:  # type: ignore[override]
            return self.view(m, receipts, notices)  # so does a trader-view agent

    monkeypatch.setattr(session_mod, "Observer", Checking)
    sc = load_scenario(name)
    Session(sc, rounds=min(sc.rounds, 4), tracing=False).run()
    wants = any(a.on_demand_observation for a in Session(sc, rounds=1, tracing=False).agents.values())
    assert bool(checked) == wants


def test_on_demand_parts_are_not_made_after_the_round_applies() -> None:
    s = Session(load_scenario("double_auction"), rounds=2, tracing=False)
    s.run()
    member = next(iter(s.market.members.values()))
    observer = Observer(s.market, s.protocol.config, s.policy.model_dump(), s.scenario.rounds)
    lazy = observer.view(member, ())
    private = lazy.private  # read during the turn: kept
    observer.close()
    assert lazy.private is private and lazy.agent_id == member.id
    with pytest.raises(RuntimeError, match="'market' was first read after"):
        lazy.market  # noqa: B018
    with pytest.raises(RuntimeError):
        lazy.model_dump_json()
