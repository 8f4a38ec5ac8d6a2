"""``Protocol.submit`` runs only the checks that can apply to an action's kind (``APPLIES``).

Every action of every built-in scenario (the red team's included) gets the same verdict, rule
and reason as running all the checks would give; so do hand-made odd actions.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from protocols.actions import ActionBase, MakeOffer, Message, PlaceOrder
from protocols.limits import check_price_band, check_self_dealing, check_spend_cap
from protocols.market_rules import check_order
from protocols.mechanism_table import check_mechanism, check_mechanism_rules, register_rules, rules_of
from protocols.protocol import Protocol
from protocols.verdict import Rule
from sandbox.scenario import builtin_names, load_scenario, parse_scenario
from sandbox.session import Session


@pytest.mark.parametrize("name", builtin_names())
def test_dispatched_verdicts_equal_running_every_check(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    compared = _compare_every_submit(monkeypatch)
    sc = load_scenario(name)
    Session(sc, rounds=min(sc.rounds, 12), tracing=False).run()
    assert compared


def test_odd_actions_run_every_check() -> None:
    s = Session(load_scenario("services"), rounds=2, tracing=False)
    s.run()
    p, who = s.protocol, next(iter(s.market.members))

    class Disguised(ActionBase):
        type: str = "place_order"  # a type value that belongs to another class

    class Renamed(MakeOffer):
        pass

    odd = [
        Disguised(),
        Renamed(price=5.0, listing_id="nope"),
        MakeOffer(price=float("nan"), listing_id="nope"),
        PlaceOrder(side="buy", service="x", price=1.0),
        Message(text="hi", to="nobody"),
        MakeOffer.model_construct(price=5.0, listing_id=None, thread_id=None, type=3),
    ]
    for action in odd:
        assert p.submit(action, s.market, who) == p.submit_all(action, s.market, who)
    assert len(p.plan(Disguised())) < len(p.checks)
    assert p.plan(MakeOffer.model_construct(price=5.0, type=3)) == p.checks  # an odd type value runs everything


def _compare_every_submit(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    compared: list[str] = []
    plain = Protocol.submit

    def both(self: Protocol, action: ActionBase, view: Any, who: str) -> Any:
        fast = plain(self, action, view, who)
        assert fast == self.submit_all(action, view, who), (action, who)
        compared.append(action.type)  # type: ignore[attr-defined]
        return fast

    monkeypatch.setattr(Protocol, "submit", both)
    return compared


@pytest.mark.parametrize(
    ("name", "limits"),
    [
        ("services", {"price_band": 0.1, "max_live_threads": 1, "max_open_listings": 1}),
        ("double_auction", {"price_band": 0.05, "spend_cap_per_round": 1.0}),
        ("posted_price", {"price_band": 0.05, "spend_cap_per_round": 5.0}),
    ],
)
def test_fused_verdicts_with_every_limit_on(name: str, limits: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    """The limits that a fused plan leaves out when off (``INERT_WHEN``) run, and decide, when on."""
    data = load_scenario(name).model_dump(mode="json")
    data.setdefault("safety", {}).setdefault("limits", {}).update(limits)
    compared = _compare_every_submit(monkeypatch)
    res = Session(parse_scenario(data, "t"), rounds=8, tracing=False).run()
    assert compared and res.summary["rejections"].get("price_band")  # the band did decide some verdicts


def test_self_dealing_is_left_out_without_owners_and_decides_with_them(monkeypatch: pytest.MonkeyPatch) -> None:
    """``check_self_dealing`` passes everything when no owners are declared (``INERT_WHEN``); with owners it
    runs in the fused plans and rejects deals between one owner's accounts as running every check does."""
    data = load_scenario("services").model_dump(mode="json")
    s = Session(parse_scenario(data, "t0"), rounds=1, tracing=False)
    offer = MakeOffer(price=5.0, listing_id="L1")
    assert check_self_dealing not in [fn for fn, _ in s.protocol.fused(offer, "bilateral")]
    buyers = [f"buyer-{i:03d}" for i in range(28)]
    sellers = [f"seller-{i:03d}" for i in range(18)]
    owners = {f"o{i}": [b, sellers[i % len(sellers)]] for i, b in enumerate(buyers[:18])}
    data.setdefault("safety", {}).setdefault("limits", {})["owners"] = owners
    compared = _compare_every_submit(monkeypatch)
    sess = Session(parse_scenario(data, "t1"), rounds=10, tracing=False)
    assert check_self_dealing in [fn for fn, _ in sess.protocol.fused(offer, "bilateral")]
    res = sess.run()
    assert compared and res.summary["rejections"].get("self_dealing")


def test_fused_plan_of_an_order() -> None:
    """An order in a double auction runs check_order directly, without the table's dispatch or the off limits."""
    s = Session(load_scenario("double_auction"), rounds=1, tracing=False)
    s.run()
    p, who = s.protocol, next(iter(s.market.members))
    order = PlaceOrder(side="buy", service="widget", price=1.0)
    fns = [fn for fn, _ in p.fused(order, "double_auction")]
    assert check_order in fns
    assert check_mechanism not in fns and check_mechanism_rules not in fns
    assert check_price_band not in fns and check_spend_cap not in fns  # off in this scenario
    # in a market that does not take orders, the mechanism check stays and rejects first
    offer = MakeOffer(price=5.0, listing_id="nope")
    assert check_mechanism in [fn for fn, _ in p.fused(offer, "double_auction")]
    verdict = p.submit(offer, s.market, who)
    assert verdict == p.submit_all(offer, s.market, who) and verdict.rule == Rule.MECHANISM


def test_fused_plans_follow_the_mechanism_table() -> None:
    """Replacing a mechanism's record remakes the plans: its new checks run, its old ones do not."""
    s = Session(load_scenario("double_auction"), rounds=1, tracing=False)
    s.run()
    p, who = s.protocol, next(iter(s.market.members))
    order = PlaceOrder(side="buy", service="widget", price=1e9)  # outside the price bounds: check_order rejects
    before = p.submit(order, s.market, who)
    assert before.rule == Rule.PRICE_BOUNDS
    original = rules_of("double_auction")
    assert original is not None
    try:
        register_rules(dataclasses.replace(original, checks=()))
        after = p.submit(order, s.market, who)
        assert after == p.submit_all(order, s.market, who) and after.accepted
        register_rules(dataclasses.replace(original, actions={"buyer": frozenset({"message"}), "seller": frozenset()}))
        moved = p.submit(order, s.market, who)
        assert moved == p.submit_all(order, s.market, who) and moved.rule == Rule.MECHANISM
    finally:
        register_rules(original)
    assert p.submit(order, s.market, who) == before
