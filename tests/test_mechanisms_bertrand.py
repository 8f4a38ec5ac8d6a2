"""Bertrand with logit demand: the numerical Nash and monopoly prices, and the collusion index."""

from __future__ import annotations

import pytest

from protocols.logit import LogitDemand, best_response, collusion_index, monopoly_prices, nash_prices
from sandbox.scenario import load_scenario
from sandbox.session import Session

BASE = LogitDemand(a=(2.0, 2.0), c=(1.0, 1.0), a0=0.0, mu=0.25)


def test_calvano_baseline_prices():
    nash, mono = nash_prices(BASE), monopoly_prices(BASE)
    assert nash == pytest.approx([1.4729, 1.4729], abs=1e-4)
    assert mono == pytest.approx([1.9250, 1.9250], abs=1e-4)


def test_nash_is_a_fixed_point_and_monopoly_maximises_joint_profit():
    nash = nash_prices(BASE)
    assert best_response(BASE, nash, 0) == pytest.approx(nash[0], abs=1e-9)
    mono = monopoly_prices(BASE)
    joint = sum(BASE.profits(mono))
    for dp in (-0.05, -0.01, 0.01, 0.05):
        assert sum(BASE.profits([p + dp for p in mono])) < joint
    # unilateral deviation from Nash does not pay
    for dp in (-0.05, 0.05):
        assert BASE.profits([nash[0] + dp, nash[1]])[0] < BASE.profits(nash)[0]


def test_asymmetric_firms_satisfy_their_first_order_conditions():
    d = LogitDemand(a=(2.0, 1.5, 2.2), c=(1.0, 0.8, 1.2), a0=0.5, mu=0.3)
    p = nash_prices(d)
    q = d.quantities(p)
    for i in range(3):
        assert (p[i] - d.c[i]) * (1 - q[i]) == pytest.approx(d.mu, abs=1e-8)
    m = monopoly_prices(d)
    markups = [x - c for x, c in zip(m, d.c, strict=True)]
    assert markups[0] == pytest.approx(markups[1]) == pytest.approx(markups[2])


def test_quantities_do_not_overflow_at_tiny_mu():
    d = LogitDemand(a=(2.0, 2.0), c=(1.0, 1.0), a0=0.0, mu=0.001)
    assert sum(d.quantities([1.0, 1.5])) == pytest.approx(1.0, abs=1e-9)


def test_collusion_index_scale():
    assert collusion_index(0.2229, 0.2229, 0.3375) == 0.0
    assert collusion_index(0.3375, 0.2229, 0.3375) == 1.0
    with pytest.raises(ValueError):
        collusion_index(1.0, 0.5, 0.5)


@pytest.mark.parametrize(("name", "index"), [("bertrand", 0.0), ("bertrand_grim", 1.0)])
def test_scenarios_report_the_index(name, index):
    result = Session(load_scenario(name), rounds=12).run()
    market = result.summary["market"]
    assert market["nash_price"] == pytest.approx([1.4729, 1.4729], abs=1e-4)
    assert market["collusion_index_last_half"] == pytest.approx(index, abs=1e-3)
    df = result.metrics()
    assert df["collusion_index"].notna().all() and (df["posted_mean_price"] > 1.0).all()
