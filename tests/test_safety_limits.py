"""Action constraints: throttles, halts, self-dealing, positions, spend caps, price bands."""

from __future__ import annotations

from collections import deque

import pytest

from protocols.actions import Accept, MakeOffer, Message, PostService, RequestQuote
from protocols.limits import LimitsConfig
from protocols.verdict import Rule
from tests.safety_helpers import act, safety_market


def _listed(**cfg):  # noqa: ANN202
    market, protocol, policy = safety_market(**cfg)
    assert act(market, protocol, policy, PostService(service="svc", ask_price=20, capacity=10), "s1")[0].accepted
    return market, protocol, policy


def test_throttled_agent_keeps_only_its_allowance() -> None:
    market, protocol, policy = _listed()
    market.members["b1"].action_cap = 1
    market.invalidate_activity()
    assert act(market, protocol, policy, Message(to="s1", text="hi"), "b1")[0].accepted
    assert protocol.submit(Message(to="s1", text="hi"), market, "b1").rule == Rule.THROTTLED
    assert protocol.submit(Message(to="s1", text="hi"), market, "b2").accepted


def test_halted_service_refuses_new_trading_but_not_other_services() -> None:
    market, protocol, policy = _listed()
    market.halted.add("service:svc")
    assert protocol.submit(MakeOffer(listing_id="L1", price=20), market, "b1").rule == Rule.HALTED
    assert protocol.submit(PostService(service="other", ask_price=40, capacity=1), market, "s3").accepted
    market.halted.add("messages")
    assert protocol.submit(Message(to="s1", text="hi"), market, "b1").rule == Rule.HALTED
    market.halted.clear()
    assert protocol.submit(MakeOffer(listing_id="L1", price=20), market, "b1").accepted


def test_self_dealing_between_declared_linked_accounts() -> None:
    market, protocol, _ = _listed(limits={"owners": {"acme": ["b1", "s1"]}})
    v = protocol.submit(MakeOffer(listing_id="L1", price=20), market, "b1")
    assert v.rule == Rule.SELF_DEALING and "acme" in v.reason
    assert protocol.submit(MakeOffer(listing_id="L1", price=20), market, "b2").accepted


def test_an_account_under_two_owners_is_a_config_error() -> None:
    with pytest.raises(ValueError, match="two owners"):
        LimitsConfig(owners={"a": ("x",), "b": ("x",)})


def test_position_limit_on_live_negotiations_and_open_listings() -> None:
    market, protocol, policy = _listed(limits={"max_live_threads": 2, "max_open_listings": 1})
    for _ in range(2):
        assert act(market, protocol, policy, RequestQuote(listing_id="L1"), "b1")[0].accepted
    assert protocol.submit(RequestQuote(listing_id="L1"), market, "b1").rule == Rule.POSITION_LIMIT
    assert (
        protocol.submit(PostService(service="svc", ask_price=20, capacity=1), market, "s1").rule == Rule.POSITION_LIMIT
    )
    assert protocol.submit(PostService(service="svc", ask_price=20, capacity=1), market, "s2").accepted


def test_spend_cap_per_round() -> None:
    market, protocol, policy = _listed(limits={"spend_cap_per_round": 50})
    tids = [act(market, protocol, policy, MakeOffer(listing_id="L1", price=30), "b1")[1] for _ in range(2)]
    assert act(market, protocol, policy, Accept(thread_id=tids[0]), "s1")[0].accepted  # 30 committed
    v = protocol.submit(Accept(thread_id=tids[1]), market, "s1")  # 60 would pass the cap of 50
    assert v.rule == Rule.SPEND_CAP and "buyer b1" in v.reason
    market.round = 2  # a new round, a new allowance
    assert protocol.submit(Accept(thread_id=tids[1]), market, "s1").accepted


def test_price_band_around_the_recent_reference_price() -> None:
    market, protocol, _ = _listed(limits={"price_band": 0.5})
    assert protocol.submit(MakeOffer(listing_id="L1", price=500), market, "b1").accepted  # no reference yet
    market.recent_prices["svc"] = deque([20.0, 22.0, 18.0])
    assert market.reference_price("svc") == 20.0
    v = protocol.submit(MakeOffer(listing_id="L1", price=31), market, "b1")
    assert v.rule == Rule.PRICE_BAND and "20.00" in v.reason
    assert protocol.submit(MakeOffer(listing_id="L1", price=29), market, "b1").accepted
    assert protocol.submit(PostService(service="svc", ask_price=5, capacity=1), market, "s2").rule == Rule.PRICE_BAND


def test_a_halt_also_stops_other_mechanisms_orders() -> None:
    from protocols.actions import BuyNow, PlaceOrder, Withdraw
    from protocols.limits import check_halt

    market, _, _ = _listed()
    market.halted.add("service:svc")
    cfg = LimitsConfig()
    assert check_halt(PlaceOrder(side="buy", service="svc", price=20), market, "b1", cfg).rule == Rule.HALTED
    assert check_halt(PlaceOrder(side="buy", service="other", price=20), market, "b1", cfg) is None
    assert check_halt(BuyNow(listing_id="L1"), market, "b1", cfg).rule == Rule.HALTED
    assert check_halt(Withdraw(thread_id="T9"), market, "b1", cfg) is None


def test_cached_activity_always_matches_a_fresh_count() -> None:
    from protocols.actions import Deliver, ReportOutcome

    market, protocol, policy = _listed()
    steps = [
        (MakeOffer(listing_id="L1", price=20), "b1"),
        (RequestQuote(listing_id="L1"), "b2"),
        (Message(to="s2", text="hi"), "b1"),
        (PostService(service="svc", ask_price=25, capacity=3), "s2"),
        (Accept(thread_id="T1"), "s1"),
        (MakeOffer(thread_id="T2", price=22), "s1"),
        (Deliver(thread_id="T1"), "s1"),
        (ReportOutcome(thread_id="T1", score=1.0), "b1"),
        (MakeOffer(listing_id="L2", price=25), "b2"),
    ]
    for action, who in steps:
        before = {a: market.activity(a) for a in market.members}  # fill the cache
        assert act(market, protocol, policy, action, who)[0].accepted, action
        cached = {a: market.activity(a) for a in market.members}
        market.invalidate_activity()
        fresh = {a: market.activity(a) for a in market.members}
        assert cached == fresh, (action, before)
