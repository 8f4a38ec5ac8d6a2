"""Every action constraint, checked on a real market, and the fixed order of checks."""

from __future__ import annotations

import math

import pytest
from helpers import act, small_market

from protocols import (
    Accept,
    Counter,
    Deliver,
    MakeOffer,
    Message,
    PostService,
    ReportOutcome,
    RequestQuote,
)
from protocols.actions import ActionParseError, parse_action, tool_schemas
from protocols.verdict import Rule


@pytest.fixture()
def m():
    market, protocol, policy = small_market()
    v, _, _ = act(market, protocol, policy, PostService(service="svc", ask_price=20, capacity=2), "s1")
    assert v.accepted
    return market, protocol, policy


def test_sender_must_be_submitter(m) -> None:
    market, protocol, _ = m
    v = protocol.submit(MakeOffer(listing_id="L1", price=20, sender="b2"), market, "b1")
    assert (v.accepted, v.rule) == (False, Rule.IMPERSONATION)
    assert "b1" in v.reason
    assert protocol.submit(MakeOffer(listing_id="L1", price=20, sender="b1"), market, "b1").accepted


def test_unknown_agent_and_suspended(m) -> None:
    market, protocol, _ = m
    assert protocol.submit(MakeOffer(listing_id="L1", price=20), market, "ghost").rule == Rule.UNKNOWN_AGENT
    market.members["b1"].suspended = True
    assert protocol.submit(MakeOffer(listing_id="L1", price=20), market, "b1").rule == Rule.SUSPENDED


@pytest.mark.parametrize("price", [float("nan"), float("inf"), -1.0, 0.0, 1e12, 500.01])
def test_prices_finite_and_in_band(m, price) -> None:
    market, protocol, _ = m
    v = protocol.submit(MakeOffer(listing_id="L1", price=price), market, "b1")
    assert v.rule == Rule.PRICE_BOUNDS and not v.accepted
    v = protocol.submit(PostService(service="svc", ask_price=price, capacity=1), market, "s1")
    assert v.rule == Rule.PRICE_BOUNDS


def test_quality_and_score_bounds(m) -> None:
    market, protocol, policy = m
    _, tid, _ = act(market, protocol, policy, MakeOffer(listing_id="L1", price=20), "b1")
    act(market, protocol, policy, Accept(thread_id=tid), "s1")
    assert protocol.submit(Deliver(thread_id=tid, quality=1.5), market, "s1").rule == Rule.QUALITY_BOUNDS
    assert protocol.submit(Deliver(thread_id=tid, quality=math.nan), market, "s1").rule == Rule.QUALITY_BOUNDS
    act(market, protocol, policy, Deliver(thread_id=tid, quality=0.9), "s1")
    assert protocol.submit(ReportOutcome(thread_id=tid, score=-0.1), market, "b1").rule == Rule.QUALITY_BOUNDS


def test_funds_checked_against_balance_net_of_escrow(m) -> None:
    market, protocol, policy = m
    # b1 has 100: an offer of 150 is refused
    assert protocol.submit(MakeOffer(listing_id="L1", price=150), market, "b1").rule == Rule.FUNDS
    _, tid, _ = act(market, protocol, policy, MakeOffer(listing_id="L1", price=80), "b1")
    act(market, protocol, policy, Accept(thread_id=tid), "s1")  # 80 now in escrow
    v = protocol.submit(MakeOffer(listing_id="L1", price=30), market, "b1")
    assert v.rule == Rule.FUNDS and "20.00" in v.reason


def test_seller_accept_fails_when_buyer_spent_the_money(m) -> None:
    market, protocol, policy = m
    _, t1, _ = act(market, protocol, policy, MakeOffer(listing_id="L1", price=70), "b1")
    _, t2, _ = act(market, protocol, policy, MakeOffer(listing_id="L1", price=60), "b1")
    assert act(market, protocol, policy, Accept(thread_id=t1), "s1")[0].accepted
    v = protocol.submit(Accept(thread_id=t2), market, "s1")
    assert v.rule == Rule.FUNDS and "buyer b1" in v.reason


def test_seller_sells_only_own_listing(m) -> None:
    market, protocol, policy = m
    _, tid, _ = act(market, protocol, policy, RequestQuote(listing_id="L1"), "b1")
    assert protocol.submit(MakeOffer(thread_id=tid, price=20), market, "b2").rule == Rule.NOT_PARTICIPANT
    assert protocol.submit(MakeOffer(thread_id=tid, price=20), market, "b1").rule == Rule.OWN_LISTING


def test_capacity(m) -> None:
    market, protocol, policy = m
    # listing capacity beyond what the seller has left to list
    assert protocol.submit(PostService(service="svc", ask_price=5, capacity=1), market, "s1").rule == Rule.CAPACITY
    assert protocol.submit(PostService(service="svc", ask_price=5, capacity=0), market, "s1").rule == Rule.CAPACITY
    tids = [act(market, protocol, policy, MakeOffer(listing_id="L1", price=10), b)[1] for b in ("b1", "b2", "b1")]
    assert act(market, protocol, policy, Accept(thread_id=tids[0]), "s1")[0].accepted
    assert act(market, protocol, policy, Accept(thread_id=tids[1]), "s1")[0].accepted
    assert protocol.submit(Accept(thread_id=tids[2]), market, "s1").rule == Rule.CAPACITY
    assert protocol.submit(MakeOffer(listing_id="L1", price=10), market, "b2").rule == Rule.CAPACITY


def test_no_self_trade(m) -> None:
    market, protocol, _ = m
    market.members["s1"].private.values["svc"] = 99.0
    assert protocol.submit(MakeOffer(listing_id="L1", price=20), market, "s1").rule == Rule.SELF_TRADE
    assert protocol.submit(RequestQuote(listing_id="L1"), market, "s1").rule == Rule.SELF_TRADE


def test_unknown_references(m) -> None:
    market, protocol, _ = m
    assert protocol.submit(Accept(thread_id="T99"), market, "b1").rule == Rule.UNKNOWN_THREAD
    assert protocol.submit(MakeOffer(listing_id="L99", price=5), market, "b1").rule == Rule.UNKNOWN_LISTING
    assert protocol.submit(MakeOffer(price=5), market, "b1").rule == Rule.DIALOGUE
    assert protocol.submit(Message(text="hi", to="nobody"), market, "b1").rule == Rule.UNKNOWN_AGENT


def test_messages(m) -> None:
    market, protocol, policy = m
    assert protocol.submit(Message(text="  "), market, "b1").rule == Rule.MESSAGE
    assert protocol.submit(Message(text="x" * 1001, to="s1"), market, "b1").rule == Rule.MESSAGE
    v, _, _ = act(market, protocol, policy, Message(text="hello", to="s1"), "b1")
    assert v.accepted and market.members["s1"].inbox[-1].text == "hello"


def test_checks_run_in_fixed_order(m) -> None:
    market, protocol, _ = m
    # impersonating AND a NaN price AND an unknown listing: identity decides first
    v = protocol.submit(MakeOffer(listing_id="L99", price=math.nan, sender="b2"), market, "b1")
    assert v.rule == Rule.IMPERSONATION
    # dialogue before prices
    v = protocol.submit(Counter(thread_id="T77", price=math.nan), market, "b1")
    assert v.rule == Rule.UNKNOWN_THREAD


def test_parse_untrusted_json() -> None:
    a = parse_action('{"type": "make_offer", "listing_id": "L1", "price": 12.5}')
    assert isinstance(a, MakeOffer) and a.price == 12.5
    for bad in (
        '{"type": "steal", "amount": 5}',
        '{"type": "accept"}',
        "not json",
        '{"type":"accept","thread_id":"T1","x":1}',
    ):
        with pytest.raises(ActionParseError) as err:
            parse_action(bad)
        assert "allowed types" in str(err.value)
    _, v = __import__("protocols").Protocol().submit_raw("{]", None, "b1")  # type: ignore[arg-type]
    assert v.rule == Rule.SCHEMA


def test_tool_schemas_come_from_the_models() -> None:
    tools = {t["function"]["name"]: t["function"] for t in tool_schemas()}
    assert set(tools) >= {"post_service", "make_offer", "accept", "report_outcome", "message"}
    offer = tools["make_offer"]["parameters"]
    assert "price" in offer["properties"] and "sender" not in offer["properties"]
    assert offer["properties"]["price"]["description"]
