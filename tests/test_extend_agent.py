"""A scenario names an agent class by dotted path (``mypkg.mod:MyAgent``); the class lives in this test module."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

import pytest

from agents.base import Agent
from agents.observation import Observation
from agents.registry import AGENT_TYPES
from protocols.actions import ActionBase, MakeOffer
from sandbox import Session
from sandbox.scenario import ScenarioError, parse_scenario


class HalfBidder(Agent):
    """Offers half the ask on the cheapest listing (a class no registry knows)."""

    kind = "half_bidder"
    description = "Offers half the ask on the cheapest listing."

    def decide(self, obs: Observation) -> Sequence[ActionBase]:
        if self.role != "buyer" or not obs.market.listings:
            return []
        best = min(obs.market.listings, key=lambda li: (li.ask_price, li.id))
        return [MakeOffer(listing_id=best.id, price=round(best.ask_price / 2, 2))]


NOT_AN_AGENT = 42


def _scenario(agent: str) -> dict:
    return {
        "seed": 1,
        "rounds": 3,
        "population": [
            {"agent": "markup_seller", "n": 2, "role": "seller", "service": "s", "cost": 10, "capacity": 3},
            {"agent": agent, "n": 2, "role": "buyer", "service": "s", "budget": 100, "value": 50},
        ],
    }


def test_a_scenario_runs_an_agent_class_named_by_dotted_path(tmp_path) -> None:
    scenario = parse_scenario(_scenario(f"{__name__}:HalfBidder"))
    assert "half_bidder" not in AGENT_TYPES, "nothing was registered"
    db = str(tmp_path / "x.db")
    s = Session(scenario, store=db)
    run_id = s.run().run_id
    buyers = [a for a in s.agents.values() if a.role == "buyer"]
    assert buyers and all(type(a) is HalfBidder for a in buyers)
    rows = (
        sqlite3.connect(db)
        .execute("select payload from actions where run_id=? and agent_id like 'buyer%'", (run_id,))
        .fetchall()
    )
    assert rows and all('"make_offer"' in p for (p,) in rows), "the buyers played HalfBidder's moves"


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        (
            "no_such_module_xyz:Agent",
            "agent type 'no_such_module_xyz:Agent': module 'no_such_module_xyz' does not import",
        ),
        (f"{__name__}:Missing", f"module '{__name__}' has no attribute 'Missing'"),
        (f"{__name__}:NOT_AN_AGENT", "is not a subclass of agents.base.Agent"),
        ("agents.base:Agent", "is not a subclass of agents.base.Agent"),
        (":HalfBidder", "is not of the form package.module:ClassName"),
    ],
)
def test_a_bad_dotted_path_is_one_sentence(path: str, expected: str) -> None:
    with pytest.raises(ScenarioError) as err:
        parse_scenario(_scenario(path), "x.yaml")
    text = str(err.value)
    assert expected in text and "\n" not in text and text.startswith("x.yaml: population[1].agent:")
