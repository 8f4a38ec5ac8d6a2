"""Every built-in scenario file runs, and the mechanisms' scenarios show what they are for."""

from __future__ import annotations

import pytest

from sandbox.metrics import frame, period_frame
from sandbox.scenario import builtin_names, load_scenario
from sandbox.session import Session

MINE = [
    "services",
    "double_auction",
    "double_auction_zi_u",
    "bertrand",
    "bertrand_grim",
    "bertrand_mixed",
    "outcome_market",
    "information_market",
]


@pytest.mark.parametrize("name", builtin_names())
def test_every_scenario_file_runs(name):
    result = Session(load_scenario(name), rounds=4).run()
    assert result.rounds == 4 and len(result.history) == 4


def test_my_scenarios_are_built_in():
    assert set(MINE) <= set(builtin_names())


def test_double_auction_optimum_matches_the_hand_computed_one():
    """14 units trade in equilibrium; value minus cost summed over them is 1080 (see the file's comment)."""
    s = Session(load_scenario("double_auction"), rounds=50)
    assert s.market.period_max_surplus() == pytest.approx(1080.0)
    assert s.market.max_surplus() == pytest.approx(2 * 1080.0)


def test_zi_c_is_more_efficient_than_zi_u():
    zic = Session(load_scenario("double_auction"), rounds=50).run()
    ziu = Session(load_scenario("double_auction_zi_u"), rounds=50).run()
    assert zic.summary["efficiency"] > 0.9 > ziu.summary["efficiency"]
    periods = period_frame(zic.summary)
    assert list(periods.index) == [1, 2] and (periods["efficiency"] <= 1.0).all()
    df = frame(zic.history)
    assert df["period_efficiency"].dropna().tolist() == pytest.approx(periods["efficiency"].tolist())
    assert (df["price_dispersion"].dropna() >= 0).all()


def test_reputation_weight_moves_buyers_to_good_sellers():
    # sellers price their expected outcome share, so under outcome payment the good sellers are
    # already the cheapest; reputation's own effect shows where it is the only quality signal
    base = load_scenario("outcome_market")
    base.policy = base.policy.with_changes({"outcome_payment": {"enabled": False}})
    blind = base.model_copy(deep=True)
    blind.policy = blind.policy.with_changes({"reputation": {"weight": 0.0}})
    weighted = Session(base, rounds=30).run().summary
    unweighted = Session(blind, rounds=30).run().summary
    assert weighted["surplus"] > unweighted["surplus"]


def test_outcome_payment_moves_buyers_to_good_sellers():
    """Paid by outcome, a low-quality seller's floor (cost / expected share) rises above a good one's."""
    base = load_scenario("outcome_market")
    base.policy = base.policy.with_changes({"reputation": {"weight": 0.0}})
    unpaid = base.model_copy(deep=True)
    unpaid.policy = unpaid.policy.with_changes({"outcome_payment": {"enabled": False}})
    paid = Session(base, rounds=30).run().summary
    flat = Session(unpaid, rounds=30).run().summary
    assert paid["surplus"] > flat["surplus"]
    assert paid["quality"] > flat["quality"]


def test_inspecting_buyers_do_better_than_blind_ones():
    result = Session(load_scenario("information_market"), rounds=6)
    result.run()
    bought = {}
    for t in result.market.threads.values():
        bought[t.buyer] = result.market.items[t.listing_id].value
    inspectors = [v for b, v in bought.items() if result.agents[b].kind == "inspecting_buyer"]
    blind = [v for b, v in bought.items() if result.agents[b].kind == "blind_buyer"]
    assert inspectors and blind and min(inspectors) > max(blind)


@pytest.mark.parametrize("name", ["double_auction", "bertrand_mixed", "outcome_market", "information_market"])
def test_mechanism_runs_replay_exactly(tmp_path, name):
    from sandbox.replay import replay
    from traces.store import Store

    store = Store(str(tmp_path / "r.db"))
    run = Session(load_scenario(name), rounds=6, store=store).run()
    assert replay(run.run_id, store).identical


def test_llm_tools_follow_the_mechanism():
    from protocols.mechanism_table import tools_for

    names = {t["function"]["name"] for t in tools_for("double_auction")}
    assert names == {"place_order", "message"}
    assert "make_offer" in {t["function"]["name"] for t in tools_for("bilateral")}
