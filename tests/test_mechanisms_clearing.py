"""Each mechanism's clearing rule on hand-made cases, through the real protocol and ledger."""

from __future__ import annotations

import pytest

from agents.observation import Private
from protocols import Protocol, ProtocolConfig
from protocols.actions import (
    BuyNow,
    Deliver,
    Inspect,
    PlaceOrder,
    PostService,
    ReportOutcome,
    RequestMatch,
    SealedBid,
    SetPrice,
)
from protocols.auctions import SealedBid as Bid
from protocols.auctions import clear_units, second_price
from protocols.dialogue import Deadlines
from protocols.money import to_micros
from protocols.policy import IncentivePolicy
from protocols.settlement import ESCROW, EXTERNAL, Posting, account
from sandbox.ledger import Ledger
from sandbox.market import Member
from sandbox.mechanisms import build_market
from sandbox.mechanisms.spec import (
    DoubleAuctionSpec,
    InformationSpec,
    IntermediarySpec,
    ItemSpec,
    PostedPriceSpec,
    SealedBidSpec,
)

PROTO = Protocol(ProtocolConfig(min_price=1.0, max_price=200.0))
FREE = IncentivePolicy(fee_rate=0.0, fines={})


def act(market, action, who, policy=FREE):
    verdict = PROTO.submit(action, market, who)
    if not verdict.accepted:
        return verdict, None
    return verdict, market.apply(action, who, policy)[1]


def buyer(aid, values, budget=1000.0):
    return Member(
        aid,
        "buyer",
        "test",
        Private(values={"w": values[0]}, demand=len(values), schedule={"w": values}),
        to_micros(budget),
    )


def seller(aid, costs):
    return Member(aid, "seller", "test", Private(costs={"w": costs[0]}, capacity=len(costs), schedule={"w": costs}), 0)


def cda(members, period_rounds=10, rounds=10):
    m = build_market(DoubleAuctionSpec(period_rounds=period_rounds), Ledger(), Deadlines(), rounds=rounds)
    for x in members:
        m.join(x)
    m.round = 1
    return m


# --- the Gode-Sunder double auction ----------------------------------------------------


def test_cda_improvement_rule_and_trade_at_standing_price():
    m = cda([buyer("b1", [100.0, 90.0]), buyer("b2", [80.0]), seller("s1", [20.0, 30.0])])
    assert act(m, PlaceOrder(side="buy", service="w", price=50), "b1")[0].accepted
    v, _ = act(m, PlaceOrder(side="buy", service="w", price=50), "b2")
    assert v.rule == "improvement"  # equal is not an improvement
    assert act(m, PlaceOrder(side="buy", service="w", price=60), "b2")[0].accepted
    assert m.book_top("w")[0].agent == "b2"  # only the best bid stands
    assert act(m, PlaceOrder(side="sell", service="w", price=90), "s1")[0].accepted
    assert act(m, PlaceOrder(side="sell", service="w", price=95), "s1")[0].rule == "improvement"
    # a bid that meets the ask trades at the ask's price, and the whole book is cleared
    v, deal = act(m, PlaceOrder(side="buy", service="w", price=150), "b1")
    assert v.accepted and deal.price == to_micros(90) and deal.thread.buyer == "b1"
    assert deal.value == to_micros(100) and deal.cost == to_micros(20)
    assert m.book_top("w") == (None, None)
    assert m.available_micros("s1") == to_micros(90) and m.available_micros("b1") == to_micros(910)
    # the traders move on to their next units
    assert m.members["b1"].private.values["w"] == 90.0 and m.members["s1"].private.costs["w"] == 30.0
    # an ask at or below the standing bid trades at the bid's price
    act(m, PlaceOrder(side="buy", service="w", price=70), "b2")
    v, deal = act(m, PlaceOrder(side="sell", service="w", price=1), "s1")
    assert deal.price == to_micros(70) and deal.cost == to_micros(30) and deal.value == to_micros(80)
    m.ledger.check(ESCROW, m.escrow_expected())


def test_cda_refuses_stale_orders_exhausted_units_wrong_side_and_unaffordable_bids():
    m = cda([buyer("b1", [100.0], budget=10.0), seller("s1", [20.0])])
    assert act(m, PlaceOrder(side="buy", service="w", price=5, unit=1), "b1")[0].rule == "stale_order"
    assert act(m, PlaceOrder(side="sell", service="w", price=50), "b1")[0].rule == "capacity"
    assert act(m, PlaceOrder(side="buy", service="w", price=50), "b1")[0].rule == "funds"
    assert act(m, PlaceOrder(side="buy", service="w", price=500), "b1")[0].rule == "price_bounds"
    assert act(m, PostService(service="w", ask_price=3, capacity=1), "s1")[0].rule == "mechanism"
    act(m, PlaceOrder(side="sell", service="w", price=8), "s1")
    assert act(m, PlaceOrder(side="buy", service="w", price=9, unit=0), "b1")[1] is not None
    assert act(m, PlaceOrder(side="buy", service="w", price=9), "b1")[0].rule == "capacity"


def test_cda_period_end_refills_units_and_records_efficiency():
    """One buyer (value 10) and one seller (cost 4): the optimum is 6 per period, known by hand."""
    m = cda([buyer("b1", [10.0]), seller("s1", [4.0])], period_rounds=2, rounds=4)
    assert m.max_surplus() == pytest.approx(12.0)  # two periods of 6
    act(m, PlaceOrder(side="sell", service="w", price=5), "s1")
    act(m, PlaceOrder(side="buy", service="w", price=7), "b1")
    m.round = 2
    m.run_deadlines(FREE)
    assert m.periods[-1]["efficiency"] == pytest.approx(1.0) and m.periods[-1]["trades"] == 1
    assert m.next_unit("b1", "w", "buy") == 0 and m.members["b1"].units_committed == 0
    m.round = 4
    m.run_deadlines(FREE)
    assert m.periods[-1]["efficiency"] == 0.0 and m.summary()["mean_period_efficiency"] == pytest.approx(0.5)


# --- sealed-bid auctions ------------------------------------------------------------------


def test_clear_units_second_and_first_price_ties_and_reserve():
    bids = [Bid("a", 50), Bid("b", 80), Bid("c", 80), Bid("d", 30)]
    assert [(w.bidder, w.price) for w in clear_units(bids, 1, 0, "second_price")] == [
        ("b", 80)
    ]  # tie: earlier bid wins
    assert [(w.bidder, w.price) for w in clear_units(bids, 2, 0, "second_price")] == [("b", 50), ("c", 50)]
    assert [(w.bidder, w.price) for w in clear_units(bids, 2, 0, "first_price")] == [("b", 80), ("c", 80)]
    assert [(w.bidder, w.price) for w in clear_units(bids, 3, 40, "second_price")] == [("b", 40), ("c", 40), ("a", 40)]
    assert clear_units(bids, 1, 100) == []
    one = clear_units(bids[:2], 1)
    assert (one[0].bidder, one[0].price) == (second_price(bids[:2]).winner, second_price(bids[:2]).price)


def _auction_market(rule="second"):
    m = build_market(SealedBidSpec(price_rule=rule, auction_rounds=1), Ledger(), Deadlines())
    for aid, v, budget in (("b1", 100.0, 1000.0), ("b2", 90.0, 1000.0), ("b3", 60.0, 70.0)):
        m.join(Member(aid, "buyer", "test", Private(values={"w": v}, demand=1), to_micros(budget)))
    m.join(Member("s1", "seller", "test", Private(costs={"w": 10.0}, capacity=1), 0))
    m.round = 1
    act(m, PostService(service="w", ask_price=20, capacity=1), "s1")
    return m


def test_vickrey_market_winner_pays_second_highest_bid():
    m = _auction_market()
    for who, bid in (("b1", 100), ("b2", 90), ("b3", 60)):
        assert act(m, SealedBid(listing_id="L1", price=bid), who)[0].accepted
    assert act(m, SealedBid(listing_id="L1", price=10), "b2")[0].rule == "auction"  # below the reserve
    assert m.run_deadlines(FREE) == []  # still open in round 1
    m.round = 2
    deals = m.run_deadlines(FREE)
    assert [(d.thread.buyer, d.price) for d in deals] == [("b1", to_micros(90))]
    assert deals[0].value == to_micros(100) and deals[0].cost == to_micros(10)
    assert m.available_micros("s1") == to_micros(90)
    m.round = 3
    assert act(m, SealedBid(listing_id="L1", price=50), "b2")[0].rule == "capacity"


def test_first_price_and_a_broke_winner_is_dropped():
    m = _auction_market("first")
    act(m, SealedBid(listing_id="L1", price=65), "b3")
    act(m, SealedBid(listing_id="L1", price=40), "b2")
    # b3 holds 70 and bid 65; a fine takes it below its bid before the auction clears
    m.ledger.post(Posting(account("b3"), EXTERNAL, to_micros(10), "fine"), 1)
    m.round = 2
    deals = m.run_deadlines(FREE)
    assert [(d.thread.buyer, d.price) for d in deals] == [("b2", to_micros(40))]


# --- posted prices --------------------------------------------------------------------------


def test_posted_price_set_and_buy_at_the_posted_price():
    m = build_market(PostedPriceSpec(), Ledger(), Deadlines())
    m.join(Member("b1", "buyer", "test", Private(values={"w": 50.0}, demand=1), to_micros(100)))
    m.join(Member("s1", "seller", "test", Private(costs={"w": 10.0}, capacity=2), 0))
    m.round = 1
    assert act(m, SetPrice(service="w", price=30), "b1")[0].rule == "own_listing"
    assert act(m, SetPrice(service="w", price=30), "s1")[0].accepted
    assert act(m, SetPrice(service="w", price=25), "s1")[0].accepted  # the same listing, repriced
    assert len(m.listings) == 1
    v, deal = act(m, BuyNow(listing_id="L1"), "b1")
    assert deal.price == to_micros(25) and deal.value == to_micros(50) and m.available_micros("b1") == to_micros(75)
    assert act(m, BuyNow(listing_id="L1"), "s1")[0].rule == "self_trade"
    assert act(m, PlaceOrder(side="buy", service="w", price=5), "b1")[0].rule == "mechanism"


# --- the intermediary ------------------------------------------------------------------------


def _intermediary(outcome="drawn", weight=0.0, seed=1):
    policy = IncentivePolicy(
        fee_rate=0.0,
        fines={},
        reputation={"weight": weight, "alpha": 0.5},
        outcome_payment={"enabled": True, "base_share": 0.5, "report_bonus": 1.0},
    )
    m = build_market(IntermediarySpec(outcome=outcome), Ledger(), Deadlines(), seed=seed, policy=policy)
    m.join(Member("b1", "buyer", "test", Private(values={"w": 100.0}, demand=5), to_micros(1000)))
    m.join(Member("good", "seller", "test", Private(costs={"w": 10.0}, capacity=5, quality=1.0), 0))
    m.join(Member("bad", "seller", "test", Private(costs={"w": 5.0}, capacity=5, quality=0.0), 0))
    m.round = 1
    act(m, PostService(service="w", ask_price=40, capacity=5), "good", policy)
    act(m, PostService(service="w", ask_price=30, capacity=5), "bad", policy)
    return m, policy


def test_intermediary_pays_by_drawn_outcome_refunds_rest_and_updates_reputation():
    m, policy = _intermediary()
    assert act(m, RequestMatch(service="w", max_price=50), "b1", policy)[0].accepted
    t = next(iter(m.live.values()))
    assert t.seller == "bad" and t.state.value == "accepted"  # with weight 0 the cheapest wins
    assert m.ledger.balance(ESCROW) == to_micros(30)
    v, deal = act(m, Deliver(thread_id=t.id, quality=0.9), "bad", policy)
    assert v.accepted and deal is not None and t.score == 0.0  # quality 0 always draws outcome 0
    assert m.available_micros("bad") == to_micros(15)  # the base share only
    assert m.available_micros("b1") == to_micros(1000 - 15)  # the rest was refunded
    assert m.members["bad"].reputation == pytest.approx(0.25) and deal.value == 0
    m.ledger.check(ESCROW, m.escrow_expected())


def test_reputation_weight_steers_the_match():
    m, policy = _intermediary(weight=2.0)
    m.members["bad"].reputation, m.members["good"].reputation = 0.0, 1.0
    assert m.match_for("b1", "w", to_micros(50)).seller == "good"  # 30 x 3 = 90 ranks behind 40 x 1
    assert m.match_for("b1", "w", to_micros(35)).seller == "bad"  # the only affordable one
    assert act(m, RequestMatch(service="w", max_price=20), "b1", policy)[0].rule == "unknown_listing"


def test_reported_outcome_is_scored_against_the_experienced_draw():
    m, policy = _intermediary(outcome="reported")
    m.listings["L2"].capacity = 0  # only the good seller is left
    act(m, RequestMatch(service="w", max_price=50), "b1", policy)
    t = next(iter(m.live.values()))
    act(m, Deliver(thread_id=t.id, quality=1.0), "good", policy)
    assert m.board_for(m.members["b1"])["experienced_outcomes"] == {t.id: 1.0}
    _, deal = act(m, ReportOutcome(thread_id=t.id, score=1.0), "b1", policy)
    assert deal is not None and m.available_micros("good") == to_micros(40)
    assert m.available_micros("b1") == to_micros(1000 - 40 + 1)  # paid in full, plus the report bonus


# --- the information market ---------------------------------------------------------------------


def test_inspection_is_shown_once_then_forgotten_unless_bought():
    spec = InformationSpec(items=[ItemSpec(seller="v", title="t1", content="secret", value=9, price=3)])
    m = build_market(spec, Ledger(), Deadlines())
    m.join(Member("v", "seller", "test", Private(costs={"information": 0.0}, capacity=1), 0))
    m.join(Member("b", "buyer", "test", Private(values={"information": 1.0}, demand=1), to_micros(10)))
    m.round = 1
    assert act(m, Inspect(listing_id="L1"), "b")[0].accepted
    first = m.board_for(m.members["b"])
    assert first["inspection"][0]["content"] == "secret" and first["inspection"][0]["value"] == 9
    again = m.board_for(m.members["b"])
    assert again["inspection"] == [] and again["inspected_before"] == ["L1"] and again["owned"] == []
    _, deal = act(m, BuyNow(listing_id="L1"), "b")
    assert deal.value == to_micros(9) and m.board_for(m.members["b"])["owned"][0]["content"] == "secret"
    assert m.max_surplus() == 9


def test_full_book_option_price_time_priority_and_no_clearing():
    m = build_market(DoubleAuctionSpec(period_rounds=10, book="full"), Ledger(), Deadlines(), rounds=10)
    for x in (buyer("b1", [100.0]), buyer("b2", [100.0]), buyer("b3", [100.0]), seller("s1", [10.0, 10.0])):
        m.join(x)
    m.round = 1
    assert act(m, PlaceOrder(side="buy", service="w", price=50), "b1")[0].accepted
    assert act(m, PlaceOrder(side="buy", service="w", price=60), "b2")[0].accepted
    assert act(m, PlaceOrder(side="buy", service="w", price=60), "b3")[0].accepted  # no improvement rule
    assert act(m, PlaceOrder(side="buy", service="w", price=55), "b1")[0].accepted  # replaces b1's 50
    assert [o.price for o in m.full["w"].bids] == [to_micros(60), to_micros(60), to_micros(55)]
    _, deal = act(m, PlaceOrder(side="sell", service="w", price=45), "s1")
    assert deal.thread.buyer == "b2" and deal.price == to_micros(60)  # same price: the earlier bid wins
    assert [o.agent for o in m.full["w"].bids] == ["b3", "b1"]  # the rest of the book stays
    _, deal = act(m, PlaceOrder(side="sell", service="w", price=58), "s1")
    assert deal.thread.buyer == "b3" and deal.price == to_micros(60)
    m.ledger.check(ESCROW, m.escrow_expected())
