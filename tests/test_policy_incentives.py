"""The incentive policy: validation, settlement plans, reputation, and live changes at round boundaries."""

from __future__ import annotations

import math

import pytest
from pydantic import ValidationError
from sqlmodel import Session as DbSession
from sqlmodel import select

from protocols import settlement
from protocols.policy import IncentivePolicy, policy_diff
from sandbox.scenario import load_scenario
from sandbox.session import Session
from traces.control import submit_command
from traces.schema import PolicyVersionRow
from traces.store import Store


@pytest.mark.parametrize(
    "bad",
    [
        {"fee_rate": -0.1},
        {"fee_rate": 1.5},
        {"tax_rate": float("nan")},
        {"fee_fixed": float("inf")},
        {"fines": {"no_such_rule": 1.0}},
        {"fines": {"funds": -1.0}},
        {"reputation": {"alpha": 2.0}},
        {"outcome_payment": {"base_share": -0.2}},
        {"bogus": 1},
    ],
)
def test_invalid_policies_are_refused(bad):
    with pytest.raises(ValidationError):
        IncentivePolicy.model_validate(bad)


def test_policy_is_frozen_and_changes_merge_nested_fields():
    p = IncentivePolicy(fee_rate=0.05, reputation={"alpha": 0.4, "weight": 1.0})
    with pytest.raises(ValidationError):
        p.fee_rate = 0.1  # type: ignore[misc]
    q = p.with_changes({"reputation": {"weight": 3.0}, "tax_rate": 0.1})
    assert q.reputation.weight == 3.0 and q.reputation.alpha == 0.4 and q.fee_rate == 0.05 and q.tax_rate == 0.1
    assert policy_diff(p, q) == {"reputation.weight": [1.0, 3.0], "tax_rate": [0.0, 0.1]}
    with pytest.raises(ValidationError):
        p.with_changes({"reputation": {"weight": -1}})


def test_fee_fine_api_kept():
    p = IncentivePolicy(fines={"funds": 0.7})
    assert p.fine_for("funds") == 0.7 and p.fine_for("schema") == 0.0


def _out_of_escrow(plan: settlement.SettlementPlan) -> int:
    return sum(x.amount for x in plan.postings if x.source == settlement.ESCROW)


def test_settle_full_price_with_fees_taxes_subsidy_and_reward():
    p = IncentivePolicy(fee_rate=0.1, fee_fixed=1.0, tax_rate=0.05, subsidy=2.0, outcome_reward=4.0)
    plan = settlement.settle("b", "s", 100_000_000, p, outcome=0.5)
    assert plan.payout == 100_000_000 and plan.refund == 0
    assert plan.fee == 10_000_000 + 1_000_000 and plan.tax == 5_000_000
    assert plan.seller_net == 84_000_000
    assert plan.subsidy == 2_000_000 and plan.reward == 2_000_000
    assert _out_of_escrow(plan) == 100_000_000  # escrow always empties
    kinds = {x.kind: (x.source, x.dest) for x in plan.postings}
    assert kinds["tax"] == (settlement.ESCROW, settlement.EXTERNAL) and kinds["subsidy"] == (
        settlement.EXTERNAL,
        "agent:s",
    )


def test_fixed_fee_never_exceeds_the_payout():
    plan = settlement.settle("b", "s", 500_000, IncentivePolicy(fee_rate=0.0, fee_fixed=2.0))
    assert plan.fee == 500_000 and plan.seller_net == 0 and _out_of_escrow(plan) == 500_000


@pytest.mark.parametrize(
    ("outcome", "claim", "share"),
    [(1.0, None, 1.0), (0.0, None, 0.5), (0.5, None, 0.75), (0.0, 1.0, 0.5), (0.0, 0.0, 0.75), (1.0, 1.0, 1.0)],
)
def test_outcome_payment_pays_the_share_and_refunds_the_rest(outcome, claim, share):
    cw = 0.0 if claim is None else 0.5
    p = IncentivePolicy(fee_rate=0.0, outcome_payment={"enabled": True, "base_share": 0.5, "claim_weight": cw})
    plan = settlement.settle("b", "s", 10_000_000, p, outcome=outcome, claim=claim)
    assert plan.payout == round(10_000_000 * share)
    assert plan.refund == 10_000_000 - plan.payout
    assert _out_of_escrow(plan) == 10_000_000


def test_no_report_pays_in_full_and_disabled_rule_ignores_outcomes():
    on = IncentivePolicy(fee_rate=0.0, outcome_payment={"enabled": True, "base_share": 0.2})
    assert settlement.settle("b", "s", 1_000, on).payout == 1_000
    off = IncentivePolicy(fee_rate=0.0)
    assert settlement.settle("b", "s", 1_000, off, outcome=0.0).payout == 1_000


def test_claim_score_is_proper_truth_maximises_expected_payment():
    """For a Bernoulli outcome with probability q, the expected share peaks at claim == q."""
    p = IncentivePolicy(outcome_payment={"enabled": True, "base_share": 0.3, "claim_weight": 1.0})
    for q in (0.2, 0.5, 0.9):

        def expected(c: float, q: float = q) -> float:
            return q * settlement.outcome_share(p, 1.0, c) + (1 - q) * settlement.outcome_share(p, 0.0, c)

        best = max((i / 100 for i in range(101)), key=expected)
        assert math.isclose(best, q, abs_tol=0.011)


def test_report_bonus_scores_report_against_verification():
    p = IncentivePolicy(outcome_payment={"enabled": True, "report_bonus": 2.0})
    assert settlement.settle("b", "s", 1_000, p, outcome=1.0, report=1.0, verification=1.0).bonus == 2_000_000
    assert settlement.settle("b", "s", 1_000, p, outcome=0.0, report=0.0, verification=1.0).bonus == 0
    assert settlement.settle("b", "s", 1_000, p, outcome=1.0, report=1.0).bonus == 0  # nothing to verify against


def test_reputation_update_and_ranking():
    p = IncentivePolicy(reputation={"prior": 0.5, "alpha": 0.5, "weight": 1.0})
    r = settlement.update_reputation(None, 1.0, p)
    assert r == 0.75 and settlement.update_reputation(r, 0.0, p) == 0.375
    assert settlement.update_reputation(0.2, 7.0, p) == 0.6  # scores are clipped to [0, 1]
    # a cheaper listing with bad reputation ranks behind a dearer one with good reputation
    assert settlement.rank_price(10.0, 0.0, p) > settlement.rank_price(15.0, 1.0, p)
    assert settlement.rank_price(10.0, None, p) == 15.0
    flat = IncentivePolicy()
    assert settlement.rank_price(10.0, 0.0, flat) == 10.0


def test_live_policy_change_takes_effect_at_the_next_round(tmp_path):
    store = Store(str(tmp_path / "p.db"))
    s = Session(load_scenario("services"), rounds=6, store=store)
    s.run(rounds=2)
    s.set_policy(
        s.policy.with_changes({"fee_rate": 0.0, "fee_fixed": 0.0, "tax_rate": 0.2}), author="alice", reason="test tax"
    )
    assert s.policy.tax_rate == 0.01  # queued, not yet in force
    submit_command(
        store, s.run_id, "set_policy", {"reputation": {"weight": 1.5}}, author="ui", reason="rank by reputation"
    )
    seen = []
    s.hooks.round_start.append(lambda sess, log: seen.append(sess.policy.tax_rate))
    s.run(rounds=1)
    assert seen == [0.01] and s.policy.tax_rate == 0.2 and s.policy.reputation.weight == 1.5
    assert s.policy.fee_rate == 0.0  # the UI command merged onto the pending Python change
    s.run()
    fees = s.metrics()["fees"]
    assert (fees.loc[4:] == 0).all()
    with DbSession(store.engine) as db:
        rows = db.exec(
            select(PolicyVersionRow).where(PolicyVersionRow.run_id == s.run_id).order_by(PolicyVersionRow.version)
        ).all()
    assert [(r.round, r.author) for r in rows] == [(1, "scenario"), (3, "alice"), (3, "ui")]
    assert rows[1].reason == "test tax"


def test_agents_are_told_what_changed():
    s = Session(load_scenario("services"), rounds=3)
    s.run(rounds=1)
    s.set_policy(s.policy.with_changes({"subsidy": 1.0}), author="bob")
    captured = {}
    agent = s.agents["buyer-000"]
    agent.trader_view = False  # this buyer reads its whole observation, notices included (not a trader view)
    original = agent.decide
    agent.decide = lambda obs: (captured.setdefault("obs", obs), original(obs))[1]  # type: ignore[method-assign]
    s.run(rounds=1)
    notes = " ".join(captured["obs"].notices)
    assert "subsidy" in notes and "bob" in notes and captured["obs"].incentives["subsidy"] == 1.0
