"""A double-auction order checked and applied in one pass gives what the general path gives.

``DoubleAuctionMarket.check_and_place`` (offered to the session by ``order_path``) decides an order
with ``order_verdict``, the rules ``check_order`` runs, and applies it with the same ``_place``. Two
sessions of one scenario get the same drawn stream of submissions, one with the one-pass path and
one without (its market's ``order_path`` answering None); after every round their records, deals,
ledger postings, books, traders, activity counts and fines are equal. The stream holds invalid
orders of every kind (stale units, the wrong side, prices out of the band or not finite, bids over
the balance, unknown services, impersonation, items past the per-round cap, odd field values,
JSON, messages, junk) and rounds with the market halted or a trader suspended or throttled.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from protocols.actions import Message, PlaceOrder
from protocols.constraints import ProtocolConfig
from protocols.limits import check_price_band
from protocols.protocol import Protocol
from protocols.trusted import trusted
from protocols.verdict import Rule, Verdict
from sandbox.mechanisms.double_auction import DoubleAuctionMarket
from sandbox.scenario import load_scenario, parse_scenario
from sandbox.session import Session

PRICES = st.one_of(
    st.floats(0.5, 210.0).map(lambda x: round(x, 2)),
    st.sampled_from([math.nan, math.inf, -math.inf, 0.0, 1.0, 200.0, 200.01, 150.0, 30.0]),
)
ORDER = st.fixed_dictionaries(
    {
        "side": st.sampled_from(["buy", "sell"]),
        "service": st.sampled_from(["widget", "widget", "widget", "gizmo"]),
        "price": PRICES,
        "unit": st.one_of(st.none(), st.none(), st.integers(0, 5)),
        "sender": st.sampled_from([None, None, None, "self", "other"]),
    }
)
ITEM = st.one_of(
    ORDER.map(lambda o: ("order", o)),
    ORDER.map(lambda o: ("order", o)),
    ORDER.map(lambda o: ("order", o)),
    ORDER.map(lambda o: ("odd", o)),
    ORDER.map(lambda o: ("json", o)),
    st.sampled_from([("message", {}), ("junk", {})]),
)
ROUND = st.fixed_dictionaries(
    {
        "items": st.lists(st.lists(ITEM, max_size=3), min_size=12, max_size=12),
        "halted": st.sampled_from([False, False, True]),
        "suspend": st.one_of(st.none(), st.integers(0, 11)),
        "throttle": st.one_of(st.none(), st.integers(0, 11)),
    }
)
VARIANTS = ["gode_sunder", "full_book", "no_safety", "cap_2"]


def _scenario(variant: str) -> Any:
    data = load_scenario("double_auction").model_dump(mode="json")
    data["mechanism"]["period_rounds"] = 3
    data["policy"]["fee_rate"] = 0.05
    data["population"][0]["budget"] = 60.0  # a buyer whose bids soon outrun its money
    if variant == "full_book":
        data["mechanism"]["book"] = "full"
    if variant == "no_safety":
        data["safety"]["enabled"] = False
    if variant == "cap_2":
        data["market"]["max_actions_per_round"], data["market"]["flood_rows"] = 2, 1
    return parse_scenario(data, f"order_path_{variant}")


def _item(kind: str, o: dict[str, Any], aid: str, ids: list[str]) -> Any:
    sender = {"self": aid, "other": ids[(ids.index(aid) + 1) % len(ids)]}.get(o["sender"])
    fields = {"sender": sender, "side": o["side"], "service": o["service"], "price": o["price"], "unit": o["unit"]}
    if kind == "order":
        return PlaceOrder(**fields)
    if kind == "odd":  # trusted, so unvalidated: a side no trader has, an int price, another type value
        odd: dict[str, Any] = (
            {"side": "hold"} if o["side"] == "buy" else {"price": int(o["price"]) if math.isfinite(o["price"]) else 7}
        )
        if o["service"] == "gizmo":
            odd = {"service": "widget", "type": "message" if o["side"] == "buy" else 3}
        return trusted(PlaceOrder, **{**fields, "type": "place_order", **odd})
    if kind == "json":
        return json.dumps({"type": "place_order", **{k: v for k, v in fields.items() if v is not None}})
    if kind == "message":
        return Message(to=ids[0] if aid != ids[0] else ids[1], text="hello")
    return 42


def _play(variant: str, rounds: list[dict[str, Any]], one_pass: bool) -> tuple[list[Any], int]:
    s = Session(_scenario(variant), rounds=len(rounds), tracing=False, run_id="t")
    market = s.market
    assert isinstance(market, DoubleAuctionMarket)
    ids = sorted(s.agents)
    decided = [0]
    if one_pass:
        plain = market.check_and_place

        def counted(*args: Any) -> Any:
            out = plain(*args)
            decided[0] += out is not None
            return out

        market.check_and_place = counted  # type: ignore[method-assign]
    else:
        market.order_path = lambda protocol: None  # type: ignore[method-assign]

    def start(session: Session, log: Any) -> None:
        plan = rounds[session.round - 1]
        market.halted.discard("service:widget")
        if plan["halted"]:
            market.halted.add("service:widget")
        for i in (plan["suspend"], plan["throttle"]):
            if i is not None:
                m = market.members[ids[i]]
                if i == plan["suspend"]:
                    m.suspended = True
                else:
                    m.action_cap = 0
        market.invalidate_activity()

    for aid, agent in s.agents.items():
        agent.decide = _decider(s, rounds, aid, ids)  # type: ignore[method-assign]

    seen: list[Any] = []
    s.hooks.round_start.append(start)
    s.hooks.round_end.append(lambda session, log: seen.append(_state(session, log)))
    s.run()
    seen.append((s.summary(), {a: [(r, rec.seq) for r, rec in got] for a, got in s._receipts.items()}))
    return seen, decided[0]


def _decider(s: Session, rounds: list[dict[str, Any]], aid: str, ids: list[str]) -> Callable[[Any], list[Any]]:
    def decide(obs: Any) -> list[Any]:
        return [_item(kind, o, aid, ids) for kind, o in rounds[s.round - 1]["items"][ids.index(aid)]]

    return decide


def _state(s: Session, log: Any) -> dict[str, Any]:
    m = s.market
    assert isinstance(m, DoubleAuctionMarket)
    return {
        "records": [(r.seq, r.agent_id, r.action_type, r.payload, r.verdict, r.thread_id) for r in log.records],
        "deals": [dataclasses.astuple(d) for d in log.deals],
        "fines": log.fines,
        "ledger": list(s.ledger.pending),
        "balances": dict(s.ledger.balances),
        "books": {k: list(v) for k, v in m.books.items()},
        "full": {k: (list(b.bids), list(b.asks)) for k, b in m.full.items()},
        "traded": dict(m.traded),
        "seq": (m._seq, m._thread_seq),
        "members": {
            a: (dict(x.private.values), dict(x.private.costs), x.units_committed, x.units_settled, x.units_listed)
            + (x.suspended, x.action_cap, list(x.notices))
            for a, x in m.members.items()
        },
        "threads": {k: dataclasses.astuple(t) for k, t in m.threads.items()},
        "prices": {k: list(v) for k, v in m.recent_prices.items()},
        "acted": dict(m._acted),
        "rejections": dict(s.rejections),
        "periods": list(m.periods),
    }


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow], report_multiple_bugs=False)
@given(variant=st.sampled_from(VARIANTS), rounds=st.lists(ROUND, min_size=1, max_size=7))
def test_one_pass_orders_match_the_general_path(variant: str, rounds: list[dict[str, Any]]) -> None:
    fast, decided = _play(variant, rounds, one_pass=True)
    slow, _ = _play(variant, rounds, one_pass=False)
    for got, want in zip(fast, slow, strict=True):
        assert got == want
    orders = sum(kind == "order" for r in rounds for items in r["items"] for kind, _ in items)
    assert decided <= orders


def test_the_stream_reaches_every_rule_and_the_one_pass_path_decides() -> None:
    """Guard against a vacuous comparison: a fixed stream gets trades and each order rule's rejection,
    most of them decided in one pass."""
    rounds = []
    for r in range(9):
        items: list[list[Any]] = []
        for i in range(12):
            side = "buy" if i < 6 else "sell"
            price = [150.0, 40.0, 90.0, 1e9, math.nan, 120.0, 60.0, 10.0, 199.0][(r + i) % 9]
            order = {"side": side, "service": "widget", "price": price, "unit": None, "sender": None}
            variants = [
                order,
                {**order, "side": "sell" if side == "buy" else "buy"},
                {**order, "unit": 3},
                {**order, "service": "gizmo"},
                {**order, "sender": "other"},
            ]
            items.append([("order", variants[(r * 7 + i) % 5]), ("order", order)])
        rounds.append({"items": items, "halted": r == 4, "suspend": 2 if r == 5 else None, "throttle": None})
    fast, decided = _play("cap_2", rounds, one_pass=True)
    slow, _ = _play("cap_2", rounds, one_pass=False)
    assert fast == slow
    rules = {rec[4].rule for state in fast[:-1] for rec in state["records"]}
    expected = {Rule.OK, Rule.PRICE_BOUNDS, Rule.CAPACITY, Rule.STALE_ORDER, Rule.IMPROVEMENT, Rule.FUNDS}
    assert expected | {Rule.IMPERSONATION, Rule.HALTED, Rule.SUSPENDED} <= rules
    assert sum(len(state["deals"]) for state in fast[:-1]) > 0
    assert decided > 100


def _session(**changes: Any) -> Session:
    data = load_scenario("double_auction").model_dump(mode="json")
    for path, value in changes.items():
        section, key = path.split("__")
        data[section][key] = value
    return Session(parse_scenario(data, "t"), rounds=1, tracing=False)


def test_the_path_is_offered_only_for_the_default_plan(monkeypatch: pytest.MonkeyPatch) -> None:
    s = _session()
    assert s.market.order_path(s.protocol) is not None
    assert _session(safety__enabled=False).market.order_path(s.protocol) is not None  # fewer checks, all known

    banded = _session(safety__limits={"price_band": 0.1})
    assert check_price_band in [
        fn for fn, _ in banded.protocol.steps(PlaceOrder(side="buy", service="w", price=1.0), "double_auction")
    ]
    assert banded.market.order_path(banded.protocol) is None  # a limit that reads the order

    def mine(action: Any, view: Any, who: str, cfg: ProtocolConfig) -> Verdict | None:
        return None

    s.protocol.checks = (*s.protocol.checks, mine)
    assert s.market.order_path(s.protocol) is None  # a user's check
    s.protocol.checks = s.protocol.checks[:-1]
    assert s.market.order_path(s.protocol) is not None

    s.market.available_micros = lambda agent_id: 0  # type: ignore[method-assign]
    assert s.market.order_path(s.protocol) is None  # a market read replaced on the instance
    del s.market.available_micros
    assert s.market.order_path(Protocol(s.protocol.config)) is not None

    class Mine(Protocol):
        def submit(self, action: Any, view: Any, submitter: str) -> Verdict:
            return super().submit(action, view, submitter)

    assert s.market.order_path(Mine(s.protocol.config)) is None  # a protocol with its own submit
    monkeypatch.setattr(Protocol, "submit", lambda self, action, view, who: Verdict.accept())
    assert s.market.order_path(s.protocol) is None  # Protocol.submit patched (as tests do)
    services = Session(load_scenario("services"), rounds=1, tracing=False)
    assert services.market.order_path(services.protocol) is None


def test_orders_the_path_leaves_to_the_general_path() -> None:
    s = _session()
    m = s.market
    assert isinstance(m, DoubleAuctionMarket)
    cfg = s.protocol.config
    buyer = next(a for a, x in m.members.items() if x.role == "buyer")
    plain = PlaceOrder(side="buy", service="widget", price=50.0)
    assert m.check_and_place(cfg, plain, "ghost", s.policy) is None  # not an agent: identity decides
    assert (
        m.check_and_place(cfg, PlaceOrder(side="buy", service="widget", price=50.0, sender="x"), buyer, s.policy)
        is None
    )
    assert m.check_and_place(cfg, Message(to=buyer, text="hi"), buyer, s.policy) is None
    odd = trusted(PlaceOrder, sender=None, type="place_order", side="buy", service="widget", price=50, unit=None)
    assert m.check_and_place(cfg, odd, buyer, s.policy) is None  # an int price: the general path's arithmetic
    for kind in (3, "message"):  # another type value: the protocol plans for it (the mechanism rule decides)
        retyped = trusted(PlaceOrder, sender=None, type=kind, side="buy", service="widget", price=50.0, unit=None)
        assert m.check_and_place(cfg, retyped, buyer, s.policy) is None
    m.halted.add("service:other")
    assert m.check_and_place(cfg, plain, buyer, s.policy) is None  # something halted: check_halt decides
    m.halted.clear()
    verdict, deal = m.check_and_place(cfg, PlaceOrder(side="buy", service="widget", price=1e9), buyer, s.policy)  # type: ignore[misc]
    assert verdict == s.protocol.submit(PlaceOrder(side="buy", service="widget", price=1e9), m, buyer)
    assert verdict.rule == Rule.PRICE_BOUNDS and deal is None
    verdict, deal = m.check_and_place(cfg, plain, buyer, s.policy)  # type: ignore[misc]
    assert verdict.accepted and deal is None and m.books["widget"][0] is not None  # the bid stands
