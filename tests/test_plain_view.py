"""Plain views (``agents/plain_view.py``, ``sandbox/member_view.py``): a ZI trader decides on the engine's
read-only view of its member instead of an ``Observation``. The view must give what the observation
gives, for every value it exposes, every round, with the policy changing mid-run (fees, taxes,
subsidies, fines); the traders' orders, and so the whole record, must be the same either way."""

from __future__ import annotations

import random
from types import MappingProxyType
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import sandbox.session as session_mod
from agents.incentives import Terms
from agents.observation import Observation
from agents.plain_view import TRUSTED_PLAIN, PlainView, plain_view_of
from agents.traders import ZICTrader, ZIUTrader, _ZITrader
from protocols import semconv as sc
from sandbox.observe import Observer, OnDemandObservation
from sandbox.scenario import Scenario, load_scenario, parse_scenario
from sandbox.session import Session
from traces import Store, trace_read

NAMES = ("mechanism", "min_price", "max_price", "demand", "capacity", "balance", "terms")
POLICY_AT = {  # round -> changes queued then (in force from the next round): fees, taxes, fines, subsidies
    3: {"fee_rate": 0.1, "tax_rate": 0.05, "fines": {"improvement": 0.25, "stale_order": 1.0}},
    6: {"subsidy": 3.0, "fee_fixed": 1.5, "tax_rate": 0.2},
    9: {"fee_rate": 0.0, "tax_rate": 0.0, "subsidy": 0.0, "fee_fixed": 0.0, "outcome_reward": 2.0},
}


def _scenario(name: str) -> Scenario:
    if name != "policy_changes":
        sc = load_scenario(name)
        return parse_scenario({**sc.model_dump(mode="json"), "rounds": 30}, name)
    # ZI-C buyers short of money (the balance bounds their bids, fines take from it), 3 periods of 5 rounds
    base = load_scenario("double_auction").model_dump(mode="json")
    base["rounds"], base["mechanism"]["period_rounds"] = 15, 5
    for i, p in enumerate(base["population"]):
        if p["role"] == "buyer":
            p["budget"] = 60 + 40 * i
    return parse_scenario(base, name)


def _session(name: str, **kwargs: Any) -> Session:
    s = Session(_scenario(name), tracing=False, **kwargs)
    if name == "policy_changes":

        def change(sess: Session, log: Any) -> None:
            if log.round in POLICY_AT:
                sess.set_policy(sess.policy.with_changes(POLICY_AT[log.round]), author="test", reason="mid-run")

        s.hooks.after_commit.append(change)
    return s


SCENARIOS = ("double_auction", "double_auction_zi_u", "policy_changes")


def _same(view: PlainView, other: PlainView, services: set[str]) -> None:
    for name in NAMES:
        assert getattr(view, name) == getattr(other, name), name
    assert dict(view.values) == dict(other.values) and dict(view.costs) == dict(other.costs)
    for svc in services | {"no-such-service"}:
        assert view.units(svc) == other.units(svc), svc


def _view_of(values: tuple[Any, ...]) -> PlainView:
    """The ``PlainView`` ``Observer.plain`` makes of these values."""
    mechanism, lo, hi, vals, costs, demand, capacity, balance, terms, schedule = values
    proxy = MappingProxyType
    return PlainView.make(
        mechanism, lo, hi, proxy(vals), proxy(costs), demand, capacity, balance, terms, proxy(schedule)
    )


@pytest.mark.parametrize("name", SCENARIOS)
def test_the_plain_view_agrees_with_the_observation(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[Any] = []

    class Checking(Observer):  # what a ZI trader reads, on a plain view or (our own code) as plain values
        def plain_values(self, m: Any, receipts: Any = ()) -> tuple[Any, ...]:
            saved = (list(m.notices), list(m.inbox))
            values = super().plain_values(m, receipts)
            view = _view_of(values)
            assert not m.notices and not m.inbox  # consumed, as an observation consumes them
            m.notices.extend(saved[0])
            m.inbox.extend(saved[1])
            built = self.observe(m, receipts)
            assert not m.notices and not m.inbox
            services = {*m.private.values, *m.private.costs, *m.private.schedule}
            _same(view, PlainView.of(built), services)
            _same(view, PlainView.of(super().view(m, receipts)), services)  # on demand, read now
            seen.append((m.id, self.market.round, view.terms, view.balance, bool(saved[0])))
            return values

    monkeypatch.setattr(session_mod, "Observer", Checking)
    s = _session(name)
    s.run()
    assert len(seen) == len(s.agents) * s.scenario.rounds  # every trader, every round, on plain values
    if name == "policy_changes":
        assert len({repr(terms) for _, _, terms, _, _ in seen}) == len(POLICY_AT) + 1  # each policy was read
        assert any(notice for *_, notice in seen)  # fines' notices reached traders (and were consumed)
        assert s.summary()["fines"] > 0 and s.summary()["transactions"] > 0


def _played(name: str) -> tuple[list[tuple[Any, ...]], dict[str, Any], dict[str, int]]:
    s = _session(name)
    rows: list[tuple[Any, ...]] = []
    s.hooks.round_end.append(
        lambda sess, log: rows.extend(
            (log.round, r.seq, r.agent_id, r.action_type, r.payload, r.verdict.accepted, r.verdict.rule)
            for r in log.records
        )
    )
    s.run()
    summary = {k: v for k, v in s.summary().items() if k != "run_id"}
    return rows, summary, dict(s.ledger.balances)


@pytest.mark.parametrize("name", SCENARIOS)
def test_orders_are_the_same_on_a_plain_view_and_on_an_observation(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    plain = _played(name)  # our own ZI traders: their plain values, no view (``TRUSTED_PLAIN``)
    assert any(r[3] == "place_order" and r[5] for r in plain[0])
    monkeypatch.delitem(TRUSTED_PLAIN, _ZITrader.decide)  # the engine's plain view
    assert _played(name) == plain
    monkeypatch.setattr(_ZITrader, "plain_view", False)  # the on-demand observation, read through ObservedView
    assert _played(name) == plain
    monkeypatch.setattr(_ZITrader, "on_demand_observation", False)  # the observation built whole
    assert _played(name) == plain


def test_a_plain_view_read_after_the_round_applies_is_refused() -> None:
    s = Session(load_scenario("double_auction"), rounds=2, tracing=False)
    s.run()
    member = s.market.members["buyer-000"]
    observer = Observer(s.market, s.protocol.config, s.policy.model_dump(), s.scenario.rounds)
    view = observer.plain(member)
    assert view.balance == s.market.available_micros("buyer-000") / 1e6
    observer.close()
    for name in NAMES + ("values", "costs"):
        with pytest.raises(RuntimeError, match=f"plain view's '{name}' was first read after"):
            getattr(view, name)
    with pytest.raises(RuntimeError):
        view.units("widget")


def test_a_view_kept_from_an_earlier_turn_cannot_be_read() -> None:
    errors: list[str] = []

    class Keeper(ZICTrader):
        kind = "zi_c_da_keeper"
        kept: PlainView | None = None

        def decide(self, obs: Any) -> Any:
            if self.kept is not None:
                try:
                    self.kept.balance  # noqa: B018
                except RuntimeError as err:
                    errors.append(str(err))
            self.kept = obs
            return super().decide(obs)

    s = Session(load_scenario("double_auction"), rounds=3, tracing=False)
    s.spawn(Keeper, n=1, role="buyer", budget=100, schedule=[150, 120], service="widget")
    s.run()
    assert len(errors) == 2 and "plain view's 'balance' was first read after" in errors[0]


def test_a_plain_view_cannot_change_the_member() -> None:
    s = Session(load_scenario("double_auction"), rounds=1, tracing=False)
    member = s.market.members["buyer-000"]
    view = Observer(s.market, s.protocol.config, s.policy.model_dump(), s.scenario.rounds).plain(member)
    with pytest.raises(TypeError):
        view.values["widget"] = 1e9  # type: ignore[index]
    assert member.private.values["widget"] == 190.0
    with pytest.raises(TypeError):
        view._schedule["widget"] = []  # type: ignore[index]
    assert view.units("widget") == len(member.private.schedule["widget"]) > 0
    with pytest.raises(AttributeError):
        view.demand = 99  # type: ignore[misc]
    with pytest.raises(TypeError):
        PlainView()  # made by the engine (PlainView.make) or from an observation (PlainView.of)


def test_who_gets_a_plain_view() -> None:
    """Only agents that read one, whose turn needs no wake check; the others keep their observations."""
    sc = load_scenario("double_auction").model_dump(mode="json")
    sc["population"][0] = {**sc["population"][0], "params": {"wake": "on_event"}}
    s = Session(parse_scenario(sc, "t"), tracing=False)
    s.spawn("zi_c", n=1, role="buyer", budget=100, value=10, service="widget")
    observer = Observer(s.market, s.protocol.config, s.policy.model_dump(), s.scenario.rounds)
    got = s._observations(observer, list(s.market.members), 0)
    assert type(got["buyer-000"]) is OnDemandObservation  # the wake rule reads an observation
    assert type(got["buyer-006"]) is not PlainView  # a scripted bilateral buyer: no plain view
    assert all(type(got[a]) is tuple for a in s.market.members if a.startswith("seller"))  # our code: values
    traced = Session(parse_scenario(sc, "t"), tracing=True)  # a turn's span reads the view it was given
    observer = Observer(traced.market, traced.protocol.config, traced.policy.model_dump(), traced.scenario.rounds)
    got = traced._observations(observer, list(traced.market.members), 0)
    assert all(type(got[a]) is PlainView for a in traced.market.members if a.startswith("seller"))
    sub = load_scenario("double_auction").model_dump(mode="json")
    sub["market"]["max_substeps"] = 1
    s2 = Session(parse_scenario(sub, "t2"), tracing=False)
    observer = Observer(s2.market, s2.protocol.config, s2.policy.model_dump(), s2.scenario.rounds)
    assert not any(type(v) is PlainView for v in s2._observations(observer, list(s2.market.members), 0).values())


def test_only_our_own_decide_gets_plain_values() -> None:
    """A class or an instance that replaces ``decide`` or ``order_for`` gets the read-only view, not the member's
    own mappings; so does an unknown plain-view agent."""

    class OwnDecide(ZICTrader):
        kind = "zi_c_own_decide"

        def decide(self, obs: Any) -> Any:
            return super().decide(obs)

    class OwnOrderFor(ZICTrader):
        kind = "zi_c_own_order_for"

        def order_for(self, *values: Any) -> Any:
            return super().order_for(*values)

    s = Session(load_scenario("double_auction"), tracing=False)
    for cls in (OwnDecide, OwnOrderFor, ZICTrader):
        s.spawn(cls, n=1, role="seller", budget=0, schedule=[10.0, 20.0], service="widget")
    replaced = s.agents["seller-000"]
    replaced.decide = replaced.decide  # type: ignore[method-assign]  # an instance's own decide
    observer = Observer(s.market, s.protocol.config, s.policy.model_dump(), s.scenario.rounds)
    got = s._observations(observer, list(s.market.members), 0)
    kinds = {a: type(s.agents[a]) for a in got}
    assert type(got["seller-000"]) is PlainView and type(got["seller-001"]) is tuple
    assert [type(got[a]) for a in got if kinds[a] in (OwnDecide, OwnOrderFor)] == [PlainView, PlainView]
    assert type(got[max(a for a in got if kinds[a] is ZICTrader)]) is tuple


def test_one_decision_whatever_the_zi_trader_is_given() -> None:
    s = Session(load_scenario("double_auction"), rounds=1, tracing=False)
    observer = Observer(s.market, s.protocol.config, s.policy.model_dump(), s.scenario.rounds)
    for cls in (ZICTrader, ZIUTrader):
        for aid in ("buyer-001", "seller-002"):
            member = s.market.members[aid]
            a, b = cls(aid, member.role), cls(aid, member.role)
            a.rng.seed("k")
            b.rng.seed("k")
            obs: Observation = observer.observe(member, ())
            assert a.decide(observer.plain(member)) == b.decide(obs) != []
            assert plain_view_of(obs).balance == obs.balance


def test_a_traced_run_writes_a_turn_span_per_trader(tmp_path: Any) -> None:
    store = Store(str(tmp_path / "t.db"))
    s = Session(load_scenario("double_auction"), rounds=3, store=store)
    s.run()
    turns = trace_read.spans(store, s.run_id, operation=sc.SPAN_AGENT_DECIDE, limit=None)
    assert sorted((t.agent_id, t.round) for t in turns) == sorted((a, r) for a in s.agents for r in (1, 2, 3))


FLOATS = st.floats(allow_nan=True, allow_infinity=True)


@settings(max_examples=300, deadline=None)
@given(lo=FLOATS, hi=FLOATS, limit=FLOATS, balance=FLOATS, buying=st.booleans(), fee=st.sampled_from([0.0, 0.1]))
def test_zi_prices_as_min_and_max_choose(
    lo: float, hi: float, limit: float, balance: float, buying: bool, fee: float
) -> None:
    """``order_for`` bounds its price with comparisons, not ``min``/``max`` calls: the same choices as the
    formula ``min(max(price, lo), hi)`` over ``lo, hi = (lo, min(ceiling, hi))`` (buyers, then ``min(hi, balance)``)
    or ``(max(floor, lo), hi)``, for every float (NaN and signed zeros too), whatever the terms."""
    terms = Terms.of({"fee_rate": fee})
    trader = ZICTrader("t", "buyer" if buying else "seller")
    values, costs = ({"w": limit}, {}) if buying else ({}, {"w": limit})
    trader.rng.seed("k")
    got = trader.order_for("double_auction", lo, hi, values, costs, 1, 1, balance, terms, {"w": [limit]})
    bound = terms.buyer_ceiling(limit) if buying else terms.seller_floor(limit)
    a, b = (lo, min(bound, hi)) if buying else (max(bound, lo), hi)
    if buying:
        b = min(b, balance)
    if b < a:
        assert got == []
        return
    rng = random.Random()
    rng.seed("k")
    price = min(max(round(a + (b - a) * rng.random(), 2), a), b)
    assert len(got) == 1 and repr(got[0].price) == repr(float(price))  # type: ignore[attr-defined]
