"""Property: random and hostile action sequences never unbalance the books or crash a session."""

from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agents.base import Agent
from protocols.settlement import ESCROW, EXTERNAL, TREASURY
from sandbox import Session
from sandbox.scenario import Scenario

prices = st.one_of(
    st.floats(min_value=0.5, max_value=150),
    st.sampled_from([math.nan, math.inf, -math.inf, -5.0, 0.0, 1e300, 1e-9]),
)
threads = st.sampled_from([f"T{i}" for i in range(1, 15)] + ["", "T-1", "../etc"])
listings = st.sampled_from([f"L{i}" for i in range(1, 6)] + ["L999"])
agents_ = st.sampled_from(["buyer-000", "buyer-001", "seller-000", "seller-001", "nobody"])

actions = st.one_of(
    st.builds(lambda lid, p: {"type": "make_offer", "listing_id": lid, "price": p}, listings, prices),
    st.builds(lambda tid, p: {"type": "make_offer", "thread_id": tid, "price": p}, threads, prices),
    st.builds(lambda tid, p: {"type": "counter", "thread_id": tid, "price": p}, threads, prices),
    st.builds(lambda tid: {"type": "accept", "thread_id": tid}, threads),
    st.builds(lambda tid: {"type": "reject", "thread_id": tid}, threads),
    st.builds(lambda tid: {"type": "withdraw", "thread_id": tid}, threads),
    st.builds(lambda tid, q: {"type": "deliver", "thread_id": tid, "quality": q}, threads, st.floats(allow_nan=True)),
    st.builds(lambda tid, q: {"type": "report_outcome", "thread_id": tid, "score": q}, threads, st.floats(-2, 2)),
    st.builds(
        lambda p, c: {"type": "post_service", "service": "svc", "ask_price": p, "capacity": c},
        prices,
        st.integers(-3, 200),
    ),
    st.builds(lambda who, t: {"type": "accept", "thread_id": t, "sender": who}, agents_, threads),  # impersonation
    st.builds(lambda to, text: {"type": "message", "to": to, "text": text}, agents_, st.text(max_size=30)),
    st.sampled_from(["{not json", 42, None, {"type": "mint_money", "amount": 1e9}, b"\xff\xfe"]),
)


class FakeScriptedFuzzer(Agent):
    """Test fake: plays back a fixed list of (possibly hostile) actions, a few per round."""

    kind = "fake_fuzzer"
    description = "Test fake: plays back hypothesis-drawn actions."

    def decide(self, obs):
        script = self.params["script"]
        start = (obs.round - 1) * 3
        return script[start : start + 3]


@pytest.mark.slow
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(actions, min_size=1, max_size=40), st.lists(actions, max_size=40), st.integers(0, 10_000))
def test_books_balance_under_random_and_hostile_actions(script_a, script_b, seed) -> None:
    scenario = Scenario.model_validate(
        {
            "name": "fuzz",
            "seed": seed,
            "rounds": 12,
            "market": {"min_price": 0.5, "max_price": 150, "offer_rounds": 2, "delivery_rounds": 2, "report_rounds": 2},
            "policy": {"fee_rate": 0.05, "fines": {"impersonation": 3, "funds": 1, "price_bounds": 0.5}},
            "population": [
                {
                    "agent": "zi_c",
                    "n": 2,
                    "role": "buyer",
                    "service": "svc",
                    "budget": 60,
                    "value": [10, 100],
                    "demand": 3,
                },
                {"agent": "zi_u", "n": 2, "role": "seller", "service": "svc", "cost": [5, 60], "capacity": 3},
            ],
        }
    )
    session = Session(scenario)
    session.spawn(FakeScriptedFuzzer, n=1, role="buyer", budget=40, service="svc", value=50, demand=5, script=script_a)
    session.spawn(FakeScriptedFuzzer, n=1, role="seller", service="svc", cost=10, capacity=4, script=script_b)
    session.run()  # the session checks the books at the end of every round and raises if they break
    ledger = session.ledger
    assert sum(ledger.balances.values()) == 0
    assert all(b >= 0 for a, b in ledger.balances.items() if a != EXTERNAL)
    assert ledger.balance(ESCROW) == session.market.escrow_expected()
    minted = (2 * 60 + 40) * 1_000_000  # two zi_c buyers at 60, the fuzzing buyer at 40
    assert ledger.money_supply == minted - session.totals.fines
    agents_total = sum(ledger.balance(f"agent:{a}") for a in session.agents)
    assert agents_total + ledger.balance(ESCROW) + ledger.balance(TREASURY) == ledger.money_supply
    assert session.history[-1]["round"] == 12
