"""Trader views (``agents/trader_view.py``, ``Observer.trader``): a negotiating scripted trader decides on the
engine's read-only view of its member instead of an ``Observation``. The view must give what the observation
gives (id, price band, values and costs, units, balance, terms, the listings it shows of the trader's own, its
threads in order, the market's listings) every round, with the policy changing mid-run; the traders'
actions, and so the whole record, must be the same whichever they are given."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sandbox.session as session_mod
from agents.observation import Observation, ObservationLimits
from agents.responders import Opportunist
from agents.scripted import ZIC, ZIU, BudgetBuyer, MarkupSeller, ScriptedTrader
from agents.trader_view import ThreadView, TraderView, trader_view_of
from sandbox.observe import Observer, OnDemandObservation
from sandbox.scenario import Scenario, load_scenario, parse_scenario
from sandbox.session import Session

NAMES = ("agent_id", "min_price", "max_price", "demand", "capacity", "balance", "terms")
THREAD = ("id", "listing_id", "service", "role", "price", "quality")
POLICY_AT = {  # round -> changes queued then (in force from the next round)
    3: {"fee_rate": 0.1, "tax_rate": 0.05, "fines": {"funds": 3.0, "self_trade": 1.0}},
    6: {"subsidy": 3.0, "fee_fixed": 1.5, "outcome_reward": 0.0},
    9: {"outcome_payment": {"enabled": False}, "reputation": {"prior": 0.2, "alpha": 0.5, "weight": 2.0}},
}
SCENARIOS = ("services", "honest", "redteam", "opportunists", "policy_changes")


def _scenario(name: str, rounds: int = 14, seed: int | None = None) -> Scenario:
    data = load_scenario("services" if name == "policy_changes" else name).model_dump(mode="json")
    data["rounds"] = rounds
    if seed is not None:
        data["seed"] = seed
    return parse_scenario(data, name)


def _session(name: str, **kwargs: Any) -> Session:
    s = Session(_scenario(name), tracing=False, **kwargs)
    if name == "policy_changes":

        def change(sess: Session, log: Any) -> None:
            if log.round in POLICY_AT:
                sess.set_policy(sess.policy.with_changes(POLICY_AT[log.round]), author="test", reason="mid-run")

        s.hooks.after_commit.append(change)
    return s


def _same(view: TraderView, other: TraderView) -> None:
    for name in NAMES:
        assert getattr(view, name) == getattr(other, name), name
    assert dict(view.values) == dict(other.values) and dict(view.costs) == dict(other.costs)
    assert list(view.stocked) == list(other.stocked)
    assert len(view.threads) == len(other.threads)
    for a, b in zip(view.threads, other.threads, strict=True):
        assert [getattr(a, n) for n in THREAD] == [getattr(b, n) for n in THREAD]
        assert list(a.your_move) == list(b.your_move)
    assert list(view.listings) == list(other.listings)


@pytest.mark.parametrize("name", SCENARIOS)
def test_the_trader_view_agrees_with_the_observation(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[tuple[str, int, int, bool]] = []

    class Checking(Observer):
        def trader(self, m: Any, receipts: Any = (), notices: Any = ()) -> TraderView:
            saved = (list(m.notices), list(m.inbox))
            view = super().trader(m, receipts, notices)
            assert type(view) is TraderView
            assert not m.notices and not m.inbox  # consumed, as an observation consumes them
            m.notices.extend(saved[0])
            m.inbox.extend(saved[1])
            built = self.observe(m, receipts, notices)
            assert not m.notices and not m.inbox
            _same(view, TraderView.of(built))
            m.notices.extend(saved[0])
            m.inbox.extend(saved[1])
            _same(view, TraderView.of(super().view(m, receipts, notices)))  # on demand, read now
            seen.append((m.id, self.market.round, len(view.threads), bool(saved[0] or saved[1])))
            return view

    monkeypatch.setattr(session_mod, "Observer", Checking)
    s = _session(name)
    s.run()
    traders = [a for a in s.agents.values() if a.trader_view]
    assert len(seen) == len(traders) * s.scenario.rounds  # every such trader, every round, on a view
    assert any(n > 1 for _, _, n, _ in seen)  # traders with several threads were compared
    if name == "redteam":
        assert any(sent for *_, sent in seen)  # messages and notices reached traders (and were consumed)


def _played(name: str, **kwargs: Any) -> tuple[list[tuple[Any, ...]], dict[str, Any], dict[str, int]]:
    s = _session(name, **kwargs)
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
def test_actions_are_the_same_on_a_trader_view_and_on_an_observation(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    viewed = _played(name)
    kinds = {r[3] for r in viewed[0] if r[5]}
    assert {"post_service", "make_offer"} <= kinds
    monkeypatch.setattr(ScriptedTrader, "trader_view", False)  # the on-demand observation, read through .of
    assert _played(name) == viewed
    monkeypatch.setattr(ScriptedTrader, "on_demand_observation", False)  # the observation built whole
    assert _played(name) == viewed


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    seed=st.integers(0, 10_000),
    listings=st.integers(1, 12),
    threads=st.integers(1, 12),
    fee=st.sampled_from([0.0, 0.02, 0.3]),
    reward=st.sampled_from([0.0, 0.5, 4.0]),
    outcome=st.booleans(),
)
def test_any_seed_limits_and_policy_give_the_same_record(
    seed: int, listings: int, threads: int, fee: float, reward: float, outcome: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Small caps on listings and threads shown (the view must cut them as the observation does)."""
    data = _scenario("services", rounds=8, seed=seed).model_dump(mode="json")
    data["policy"].update(fee_rate=fee, outcome_reward=reward)
    data["policy"]["outcome_payment"]["enabled"] = outcome
    sc = parse_scenario(data, "services")
    limits = ObservationLimits(listings=listings, threads=threads)

    def played() -> list[tuple[Any, ...]]:
        s = Session(sc, tracing=False, limits=limits)
        rows: list[tuple[Any, ...]] = []
        s.hooks.round_end.append(
            lambda sess, log: rows.extend((r.agent_id, r.payload, r.verdict.rule) for r in log.records)
        )
        s.run()
        return rows

    viewed = played()
    with monkeypatch.context() as mp:
        mp.setattr(ScriptedTrader, "trader_view", False)
        assert played() == viewed


def test_one_decision_whatever_the_trader_is_given() -> None:
    s = Session(_scenario("services"), rounds=6, tracing=False)
    s.run()
    observer = Observer(s.market, s.protocol.config, s.policy.model_dump(), s.scenario.rounds)
    compared = 0
    for aid, member in s.market.members.items():
        for cls in (ZIU, ZIC, MarkupSeller, BudgetBuyer):
            a, b = cls(aid, member.role, **s.agents[aid].params), cls(aid, member.role, **s.agents[aid].params)
            a.rng.seed("k")
            b.rng.seed("k")
            inbox, notices = list(member.inbox), list(member.notices)
            obs: Observation = observer.observe(member, ())
            member.inbox.extend(inbox)
            member.notices.extend(notices)
            assert a.decide(observer.trader(member)) == b.decide(obs)
            compared += bool(member.threads)
            assert trader_view_of(obs).balance == obs.balance
    assert compared > 20


def test_a_trader_view_read_after_the_round_applies_is_refused() -> None:
    s = Session(_scenario("services"), rounds=3, tracing=False)
    s.run()
    member = next(m for m in s.market.members.values() if m.threads)
    observer = Observer(s.market, s.protocol.config, s.policy.model_dump(), s.scenario.rounds)
    view = observer.trader(member)
    thread = view.threads[0]
    assert isinstance(thread, ThreadView) and view.balance == s.market.available_micros(member.id) / 1e6
    observer.close()
    for name in NAMES + ("values", "costs", "stocked", "threads", "listings"):
        with pytest.raises(RuntimeError, match=f"trader view's '{name}' was first read after"):
            getattr(view, name)
    assert thread.id in member.threads  # a thread already read is a snapshot: it stays readable


def test_a_trader_view_cannot_change_the_member() -> None:
    s = Session(_scenario("services"), rounds=1, tracing=False)
    member = s.market.members["seller-000"]
    view = Observer(s.market, s.protocol.config, s.policy.model_dump(), s.scenario.rounds).trader(member)
    with pytest.raises(TypeError):
        view.costs["translation"] = 0.0  # type: ignore[index]
    assert member.private.costs["translation"] > 0
    with pytest.raises(AttributeError):
        view.capacity = 99  # type: ignore[misc]
    with pytest.raises(TypeError):
        TraderView()  # made by the engine (TraderView.make) or from an observation (TraderView.of)


def test_who_gets_a_trader_view() -> None:
    """Negotiating scripted traders whose turn needs no wake check; an opportunist reads its whole observation."""
    data = load_scenario("opportunists").model_dump(mode="json")
    data["population"][0] = {**data["population"][0], "params": {"markup": 0.25, "wake": "on_event"}}
    s = Session(parse_scenario(data, "t"), tracing=False)
    observer = Observer(s.market, s.protocol.config, s.policy.model_dump(), s.scenario.rounds)
    got = s._observations(observer, list(s.market.members), 0)
    kinds = {(type(s.agents[a]), "wake" in s.agents[a].params): type(v) for a, v in got.items()}
    assert kinds == {
        (MarkupSeller, True): OnDemandObservation,  # its wake rule reads an observation
        (BudgetBuyer, False): TraderView,
        (Opportunist, False): OnDemandObservation,
    }
    data["population"][0]["params"] = {"markup": 0.25}
    s1 = Session(parse_scenario(data, "t1"), tracing=False)
    observer = Observer(s1.market, s1.protocol.config, s1.policy.model_dump(), s1.scenario.rounds)
    assert type(s1._observations(observer, ["seller-000"], 0)["seller-000"]) is TraderView
    data["market"]["max_substeps"] = 1
    s2 = Session(parse_scenario(data, "t2"), tracing=False)
    observer = Observer(s2.market, s2.protocol.config, s2.policy.model_dump(), s2.scenario.rounds)
    assert not any(type(v) is TraderView for v in s2._observations(observer, list(s2.market.members), 0).values())
