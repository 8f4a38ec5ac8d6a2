"""Incentives change behaviour: one small sweep per lever, asserting the direction and, where theory
gives it, the size of the response (docs/incentives.md)."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agents.incentives import Terms
from agents.observation import MarketInfo, Observation, Private
from agents.responders import best_quality
from agents.scripted import ZIC, ZIU, MarkupSeller
from protocols.policy import IncentivePolicy
from sandbox.responses import (
    competitive_quantity,
    da_schedules,
    effort_market,
    mean_period_trades,
    opportunist_violation_rate,
    run,
)
from sandbox.scenario import load_scenario, parse_scenario
from sandbox.session import Session


def _seller_obs(incentives: dict, cost: float = 50.0) -> Observation:
    return Observation(
        agent_id="s",
        role="seller",
        round=1,
        rounds_left=5,
        balance=0.0,
        private=Private(costs={"x": cost}, capacity=1),
        market=MarketInfo(min_price=1.0, max_price=200.0),
        incentives=incentives,
    )


def test_floor_is_cost_over_one_minus_fee_and_neutral_without_a_policy() -> None:
    assert Terms.of({}).seller_floor(50.0) == 50.0
    assert Terms.of({"fee_rate": 0.2}).seller_floor(50.0) == pytest.approx(62.5)
    t = Terms.of({"fee_rate": 0.1, "tax_rate": 0.1, "fee_fixed": 2, "subsidy": 4, "outcome_reward": 6})
    assert t.seller_floor(50.0) == pytest.approx((50 + 2 - 4 - 6) / 0.8)
    # what the floor keeps is exactly the cost: the floor is where the seller breaks even
    assert t.seller_keeps(t.seller_floor(50.0)) == pytest.approx(50.0)
    assert Terms.of({"fee_rate": 0.6, "tax_rate": 0.5}).seller_floor(50.0) == math.inf
    assert Terms.of("not json").fee_rate == 0.0 and Terms.of({"fee_rate": "x"}).fee_rate == 0.0


def test_aware_sellers_never_ask_below_the_floor_and_zi_u_ignores_the_policy() -> None:
    obs = _seller_obs({"fee_rate": 0.5})
    for seed in range(50):
        zic = ZIC("s", "seller")
        zic.rng.seed(seed)
        assert zic.ask(obs, "x") >= 100.0
    assert MarkupSeller("s", "seller", markup=0.2).ask(obs, "x") == pytest.approx(120.0)
    # ZI-U, same generator state: the same draw whatever the fee (it may ask below the floor)
    assert ZIU("s", "seller").ask(obs, "x") == ZIU("s", "seller").ask(_seller_obs({}), "x")


def test_fee_lowers_traded_quantity_to_the_competitive_quantity_of_the_shifted_schedules() -> None:
    """ZI-C in the Gode-Sunder double auction trades about the competitive quantity; with sellers'
    costs shifted to c / (1 - f) by the fee wedge, the quantity follows Q*(f).

    Tolerance: one unit per period on the mean over periods and seeds. ZI-C misses the last
    intra-marginal unit when its holders run out of time and can trade one extra-marginal unit
    when an intra-marginal trader meets an extra-marginal one; measured at f in 0..0.4 over 12
    periods each, single periods stay within 2 units of Q*(f) and means within 0.7.
    """
    values, costs = da_schedules()
    measured = {}
    for fee in (0.0, 0.2, 0.4):
        q_star = competitive_quantity(values, [c / (1 - fee) for c in costs])
        measured[fee] = mean_period_trades({"fee_rate": fee}, seeds=(0, 1))
        assert measured[fee] == pytest.approx(q_star, abs=1.0), (fee, q_star, measured[fee])
    assert measured[0.0] > measured[0.2] > measured[0.4]


def test_subsidy_adds_trades_at_the_margin() -> None:
    """A subsidy s per trade lowers every floor to c - s: the margin moves out to Q*(s)."""
    values, costs = da_schedules()
    base_fee = {"fee_rate": 0.2}
    without = mean_period_trades(base_fee, seeds=(0, 1))
    with_subsidy = mean_period_trades({**base_fee, "subsidy": 24.0}, seeds=(0, 1))
    q_star = competitive_quantity(values, [(c - 24.0) / 0.8 for c in costs])
    assert q_star > competitive_quantity(values, [c / 0.8 for c in costs])
    assert with_subsidy > without
    assert with_subsidy == pytest.approx(q_star, abs=1.0)


def test_fee_lowers_trades_and_volume_in_the_services_market_and_zi_u_does_not_respond() -> None:
    low = run("services", {"fee_rate": 0.0}, seeds=(0, 1), rounds=40)
    high = run("services", {"fee_rate": 0.3}, seeds=(0, 1), rounds=40)
    assert high["transactions"] < low["transactions"] and high["volume"] < low["volume"]
    # the control: an all-ZI-U market trades the very same deals whatever the fee
    sc = load_scenario("services").model_dump()
    for group in sc["population"]:
        group["agent"] = "zi_u"
        group["params"] = {}
    blind = parse_scenario(sc, "zi_u services")
    deals = []
    for fee in (0.0, 0.3):
        s = Session(blind.model_copy(update={"policy": blind.policy.with_changes({"fee_rate": fee})}), rounds=15)
        s.run()
        deals.append(sorted((t.id, t.price_micros) for t in s.market.threads.values() if t.state == "settled"))
    assert deals[0] and deals[0] == deals[1]


def test_expected_fine_lowers_violations_as_predicted() -> None:
    """Opportunists offend with probability max(0, 1 - fine / (hope x gain)) = 1 - fine / 5 per temptation.

    Tolerance: each rate is a mean over 8 seeds x 6 opportunists x 19 temptations (912
    draws); three binomial standard deviations (0.049 at p = 0.6) plus 0.01. The same draws
    serve every fine (common random numbers), so the curve is monotone by construction of
    the sample, and its level is what is tested: at fine 2 these seeds give 0.564 against 0.6.
    """
    rates = {}
    for fine in (0.0, 2.0, 5.0):
        rate, transactions = opportunist_violation_rate(fine, seeds=range(8))
        rates[fine] = rate
        predicted = max(0.0, 1 - fine / 5.0)
        sd = math.sqrt(predicted * (1 - predicted) / 912)
        assert rate == pytest.approx(predicted, abs=3 * sd + 0.01), (fine, rate, predicted)
        assert transactions == 24  # honest trade is untouched: all 12 buyers still get their two units
    assert rates[0.0] > rates[2.0] > rates[5.0]


def test_best_quality_matches_the_closed_form() -> None:
    """Without outcome payment or reputation: q* = min(1, reward / (2 x effort_cost))."""
    for reward, expected in ((0.0, 0.0), (10.0, 0.25), (20.0, 0.5), (60.0, 1.0)):
        assert best_quality(Terms.of({"outcome_reward": reward}), 60.0, 20.0, 0.0) == pytest.approx(expected)


def test_outcome_reward_raises_delivered_quality() -> None:
    """Effort sellers deliver q* = reward / (2 x 20): 0, 0.25, 0.5; outcomes are drawn from q."""
    measured = {}
    for reward, q_star in ((0.0, 0.0), (10.0, 0.25), (20.0, 0.5)):
        claims, outcome = effort_market({"outcome_reward": reward})
        assert claims == pytest.approx([q_star] * len(claims))
        measured[reward] = outcome
    assert measured[0.0] < measured[10.0] < measured[20.0]


def test_reputation_weight_raises_delivered_quality() -> None:
    measured = {}
    for weight in (0.0, 1.0, 3.0):
        claims, outcome = effort_market({"reputation": {"weight": weight, "alpha": 0.2}})
        measured[weight] = (sum(claims) / len(claims), outcome)
    assert measured[0.0][0] < measured[1.0][0] < measured[3.0][0]
    assert measured[0.0][1] < measured[3.0][1]


def test_outcome_payment_raises_delivered_quality() -> None:
    off, _ = effort_market({})
    on, _ = effort_market({"outcome_payment": {"enabled": True, "base_share": 0.5}})
    assert sum(on) / len(on) > sum(off) / len(off) == 0.0


def _stand_in_asks(messages: list[dict]) -> list[float]:
    from agents.llm.scripted_model import answer

    body = answer("scripted/markup_seller", messages, seed=1)
    calls = body["choices"][0]["message"].get("tool_calls") or []
    return [
        json.loads(c["function"]["arguments"])["ask_price"] for c in calls if "ask_price" in c["function"]["arguments"]
    ]


def test_stand_in_model_prices_from_the_policy_in_the_prompt_whatever_its_layout() -> None:
    from agents.llm.prompt import Memory, build_messages

    obs = _seller_obs({**IncentivePolicy(fee_rate=0.5, tax_rate=0.0).model_dump()}, cost=50.0)
    messages = build_messages(obs, "markup_seller", "", Memory())
    assert _stand_in_asks(messages) == [120.0]  # floor 50 / (1 - 0.5), markup 0.2
    # a prompt whose constants leave the policy out, with the policy JSON in another message: read from there
    system, user = messages[0]["content"], messages[1]["content"]
    start, end = system.index("<constants>") + len("<constants>"), system.index("</constants>")
    const = json.loads(system[start:end])
    policy = const.pop("incentives")
    bare = system[:start] + json.dumps(const) + system[end:]
    elsewhere = [
        {"role": "system", "content": bare},
        {"role": "user", "content": "The policy in force: " + json.dumps(policy)},
        {"role": "user", "content": user},
    ]
    assert _stand_in_asks(elsewhere) == [120.0]
    blind = [{"role": "system", "content": bare}, {"role": "user", "content": user}]
    assert _stand_in_asks(blind) == [60.0]  # no policy anywhere: neutral terms


def test_llm_agents_on_the_stand_in_respond_to_a_live_fee_change() -> None:
    """An LLM seller on the stand-in lists at cost x 1.2 = 60; buyers offer 60. Raised live to a fee
    of 0.5 before it answers, its floor is 100: it counters 120 instead of accepting the offers."""
    sc = parse_scenario(
        {
            "rounds": 3,
            "policy": {"fee_rate": 0.0, "tax_rate": 0.0, "outcome_reward": 0.0},
            "population": [
                {"agent": "budget_buyer", "n": 2, "role": "buyer", "value": 100, "budget": 300, "demand": 1},
                {
                    "agent": "llm",
                    "n": 1,
                    "role": "seller",
                    "cost": 50,
                    "capacity": 2,
                    "params": {"model": "scripted/markup_seller"},
                },
            ],
        },
        "stand-in seller",
    )
    answers = {}
    for raise_fee in (False, True):
        s = Session(sc, tracing=False)
        moves: list[tuple[str, float | None]] = []
        s.hooks.round_end.append(
            lambda sess, log, moves=moves: moves.extend(
                (r.action_type, json.loads(r.payload).get("price") or json.loads(r.payload).get("ask_price"))
                for r in log.records
                if r.agent_id.startswith("seller") and r.verdict.accepted
            )
        )
        s.run(rounds=1)  # the seller lists at 60
        if raise_fee:
            s.set_policy(s.policy.with_changes({"fee_rate": 0.5}), author="test", reason="live change")
        s.run(rounds=2)  # round 2: buyers offer the ask; round 3: the seller answers
        answers[raise_fee] = moves
    assert answers[False] == [("post_service", 60.0), ("accept", None), ("accept", None)]
    assert answers[True] == [("post_service", 60.0), ("counter", 120.0), ("counter", 120.0)]


@settings(max_examples=200, deadline=None)
@given(x=st.floats(allow_nan=True, allow_infinity=True))
def test_neutral_terms_price_as_their_arithmetic(x: float) -> None:
    """``Terms.neutral``: the ZI traders' shortcut (``agents/traders.py``) gives what ``buyer_ceiling`` and
    ``seller_floor`` give, bit for bit (signed zeros, infinities and NaN included)."""
    plain = load_scenario("double_auction").policy.model_dump()  # no fee, tax or mint
    by_outcome = {**plain, "outcome_payment": {"enabled": True, "base_share": 0.5}}  # a share of 1 at quality 1
    for terms in (Terms(), Terms.of(plain), Terms.of(by_outcome)):
        assert terms.neutral
        assert repr(terms.buyer_ceiling(x)) == repr(x + 0.0)
        assert repr(terms.seller_floor(x)) == repr(0.0 if x <= 0 else x)
    for change in ({"fee_rate": 0.1}, {"fee_fixed": 1.0}, {"tax_rate": 0.2}, {"subsidy": 2.0}, {"outcome_reward": 1.0}):
        assert not Terms.of({**plain, **change}).neutral, change
    claims = {**plain, "outcome_payment": {"enabled": True, "base_share": 0.5, "claim_weight": 0.5}}
    assert Terms.of(claims).neutral == (Terms.of(claims)._share == 1.0)
