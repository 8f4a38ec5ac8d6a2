"""Hostile and random actions against every mechanism: each is refused or applied, never crashes, books balance."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as hs

from agents.observation import Private
from protocols import Protocol, ProtocolConfig
from protocols.actions import ActionParseError, parse_action
from protocols.dialogue import Deadlines
from protocols.money import to_micros
from protocols.policy import IncentivePolicy
from protocols.settlement import ESCROW
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

SPECS = [
    DoubleAuctionSpec(period_rounds=3),
    DoubleAuctionSpec(period_rounds=3, book="full"),
    PostedPriceSpec(),
    SealedBidSpec(auction_rounds=1),
    IntermediarySpec(outcome="reported"),
    InformationSpec(items=[ItemSpec(seller="s1", title="t", content="c", value=5, price=2)]),
]
AGENTS = ["b1", "b2", "s1", "s2", "ghost"]
PRICES = [5.0, 20.0, 35.0, 60.0, 95.0, 150.0, 0.0, -3.0, float("nan"), float("inf"), 1e12]
KINDS = [
    "place_order",
    "set_price",
    "buy_now",
    "sealed_bid",
    "request_match",
    "inspect",
    "post_service",
    "deliver",
    "report_outcome",
    "make_offer",
    "impersonate",
]


def _action(market, kind: str, price: float, pick: int, side: int) -> dict:
    """A plausible or hostile action of ``kind``, naming a real listing or thread when there is one."""
    listings = sorted(market.listings) + ["L99", ""]
    threads = sorted(market.threads) + ["T99"]
    lid, tid = listings[pick % len(listings)], threads[pick % len(threads)]
    return {
        "place_order": {
            "type": "place_order",
            "side": ["buy", "sell", "hold"][side % 3],
            "service": "w",
            "price": price,
            "unit": [None, 0, 1, -1][side % 4],
        },
        "set_price": {"type": "set_price", "service": "w", "price": price},
        "buy_now": {"type": "buy_now", "listing_id": lid},
        "sealed_bid": {"type": "sealed_bid", "listing_id": lid, "price": price},
        "request_match": {"type": "request_match", "service": "w", "max_price": price},
        "inspect": {"type": "inspect", "listing_id": lid},
        "post_service": {"type": "post_service", "service": "w", "ask_price": price, "capacity": side % 4 - 1},
        "deliver": {"type": "deliver", "thread_id": tid, "quality": [0.0, 0.5, 1.0, 2.0][side % 4]},
        "report_outcome": {"type": "report_outcome", "thread_id": tid, "score": [0.0, 0.5, 1.0, -1.0][side % 4]},
        "make_offer": {"type": "make_offer", "listing_id": lid, "price": price},
        "impersonate": {"type": "set_price", "service": "w", "price": 10.0, "sender": AGENTS[side % 5]},
    }[kind]


STEPS = hs.lists(
    hs.tuples(
        hs.integers(0, 4),
        hs.integers(0, len(KINDS) - 1),
        hs.integers(0, len(PRICES) - 1),
        hs.integers(0, 20),
        hs.integers(0, 11),
    ),
    max_size=50,
)


def _market(spec):
    policy = IncentivePolicy(
        fee_rate=0.1,
        tax_rate=0.05,
        subsidy=0.5,
        outcome_reward=1.0,
        outcome_payment={"enabled": True, "base_share": 0.3, "claim_weight": 0.5, "report_bonus": 1.0},
    )
    m = build_market(spec, Ledger(), Deadlines(1, 1, 1), seed=3, rounds=9, policy=policy)
    for aid, v in (("b1", 90.0), ("b2", 40.0)):
        m.join(
            Member(
                aid,
                "buyer",
                "t",
                Private(values={"w": v, "information": 1.0}, demand=2, schedule={"w": [v, v / 2]}),
                to_micros(100),
            )
        )
    for aid, c in (("s1", 10.0), ("s2", 30.0)):
        m.join(
            Member(aid, "seller", "t", Private(costs={"w": c}, capacity=2, schedule={"w": [c, c * 2]}, quality=0.5), 0)
        )
    return m, policy


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec_i=hs.integers(0, len(SPECS) - 1), steps=STEPS)
def test_random_actions_never_break_the_books(spec_i, steps):
    market, policy = _market(SPECS[spec_i])
    proto = Protocol(ProtocolConfig(min_price=1.0, max_price=200.0, deadlines=Deadlines(1, 1, 1)))
    for n, (who_i, kind_i, price_i, pick, side) in enumerate(steps):
        market.round = 1 + n // 6
        who = AGENTS[who_i]
        try:
            action = parse_action(_action(market, KINDS[kind_i], PRICES[price_i], pick, side))
        except ActionParseError:
            continue
        verdict = proto.submit(action, market, who)
        if verdict.accepted:
            market.apply(action, who, policy)
        else:
            assert verdict.reason
        if n % 6 == 5:
            market.run_deadlines(policy)
        market.ledger.check(ESCROW, market.escrow_expected())
    minted = sum(e.amount for e in market.ledger.pending if e.source == "external")
    burnt = sum(e.amount for e in market.ledger.pending if e.dest == "external")
    assert market.ledger.money_supply == minted - burnt


def test_the_driver_reaches_every_mechanism_action():
    """Guard against a vacuous property: a fixed sweep gets each mechanism's actions accepted."""
    import itertools

    accepted = set()
    for spec in SPECS:
        market, policy = _market(spec)
        proto = Protocol(ProtocolConfig(min_price=1.0, max_price=200.0, deadlines=Deadlines(1, 1, 1)))
        sweep = itertools.product(range(3), AGENTS[:4], KINDS, [20.0, 60.0], range(3), (0, 2))
        last = 0
        for sweep_no, who, kind, price, pick, side in sweep:
            if sweep_no != last:  # one sweep is one round
                market.run_deadlines(policy)
                last = sweep_no
            market.round = 1 + sweep_no
            try:
                action = parse_action(_action(market, kind, price, pick, side))
            except ActionParseError:
                continue
            if proto.submit(action, market, who).accepted:
                market.apply(action, who, policy)
                accepted.add((spec.kind, action.type))
        market.ledger.check(ESCROW, market.escrow_expected())
    for needed in [
        ("double_auction", "place_order"),
        ("posted_price", "buy_now"),
        ("sealed_bid", "sealed_bid"),
        ("intermediary", "request_match"),
        ("intermediary", "deliver"),
        ("information", "inspect"),
        ("information", "buy_now"),
    ]:
        assert needed in accepted, needed
