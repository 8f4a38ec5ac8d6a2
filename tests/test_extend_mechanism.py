"""A new mechanism is one module plus one registration: this file is that module.

The toy shop (fixed-price listings made at join, ``buy_now`` only, at most ``limit`` units per
buyer, a ``toy_sales`` metric) is defined and registered here and nowhere else; it then runs
from a scenario with scripted buyers and with LLM buyers on the offline stand-in model, with
its check refusing, its tools offered, its instructions in the prompt and its metric reported.
"""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from collections.abc import Iterator, Sequence
from typing import Any, Literal

import pytest
from pydantic import BaseModel, ConfigDict, Field

from agents.base import Agent
from agents.llm.scripted_model import ScriptedStandIn, register_stand_in
from agents.llm.stand_in_mechanisms import MECHANISM_STRATEGIES, register_stand_in_trader
from agents.observation import Observation
from agents.registry import AGENT_TYPES, register
from agents.traders import Idle
from protocols.actions import ActionBase, BuyNow, SetPrice
from protocols.dialogue import Deadlines
from protocols.mechanism_table import actions_for, instructions_for, mechanism_rules
from protocols.money import to_micros
from protocols.policy import IncentivePolicy
from protocols.state import Listing
from protocols.verdict import Rule, Verdict
from sandbox import Session
from sandbox.ledger import Ledger
from sandbox.market import Deal, MarketBase, Member
from sandbox.mechanisms.registry import register_mechanism, unregister_mechanism
from sandbox.mechanisms.trades import trade_now
from sandbox.scenario import ScenarioError, parse_scenario
from traces import Store
from traces.llm_calls import llm_calls

# --- the mechanism module ---------------------------------------------------------------


class ToyShopSpec(BaseModel):
    """Every seller's services are listed at one fixed price; each buyer may buy ``limit`` units."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["toy_shop"] = "toy_shop"
    price: float = Field(4.0, gt=0)
    limit: int = Field(2, ge=1)


def check_toy_shop(action: ActionBase, view: Any, who: str, cfg: Any) -> Verdict | None:
    """A purchase: a listing that exists, not one's own, units left, under the per-buyer limit, affordable."""
    if not isinstance(action, BuyNow):
        return None
    li = view.listing(action.listing_id)
    if li is None:
        return Verdict.reject(Rule.UNKNOWN_LISTING, f"no listing '{action.listing_id}'")
    if li.seller == who:
        return Verdict.reject(Rule.SELF_TRADE, "that listing is your own")
    if li.remaining <= 0:
        return Verdict.reject(Rule.CAPACITY, f"listing {li.id} has no units left")
    if view.units_bought(who) >= view.limit:
        return Verdict.reject(Rule.CAPACITY, f"the toy shop sells at most {view.limit} units to each buyer")
    if view.available_micros(who) < li.ask_micros:
        return Verdict.reject(Rule.FUNDS, "you cannot pay the price")
    return None


class ToyShopMarket(MarketBase):
    """The live toy shop."""

    mechanism = "toy_shop"

    def __init__(self, ledger: Ledger, deadlines: Deadlines, spec: ToyShopSpec) -> None:
        super().__init__(ledger, deadlines)
        self.price, self.limit = to_micros(spec.price), spec.limit
        self.bought: Counter[str] = Counter()
        self.sales = 0

    @classmethod
    def from_spec(
        cls, spec: Any, ledger: Ledger, deadlines: Deadlines, *, seed: int, rounds: int, policy: IncentivePolicy
    ) -> ToyShopMarket:
        return cls(ledger, deadlines, spec)

    def join(self, member: Member) -> None:
        super().join(member)
        for service in member.private.costs:  # a seller's services are listed at the shop's price
            self._listing_seq += 1
            li = Listing(f"L{self._listing_seq}", member.id, service, "toy", self.price, member.private.capacity)
            self.listings[li.id] = member.listings[li.id] = li
            member.units_listed += li.capacity

    def units_bought(self, agent_id: str) -> int:
        """Read by ``check_toy_shop``."""
        return self.bought[agent_id]

    def apply(self, action: ActionBase, who: str, policy: IncentivePolicy) -> tuple[str | None, Deal | None]:
        assert isinstance(action, BuyNow), "the toy shop's record accepts only buy_now"
        li = self.listings[action.listing_id]
        li.reserved += 1
        self.bought[who] += 1
        self.sales += 1
        deal = trade_now(self, who, li.seller, li.service, li.ask_micros, policy, listing_id=li.id)
        return deal.thread.id, deal

    def run_deadlines(self, policy: IncentivePolicy) -> list[Deal]:
        return []

    def round_facts(self) -> dict[str, Any]:
        return {**super().round_facts(), "toy_sales": self.sales}


class ToyBuyer(Agent):
    """Tries to buy three units of the first listing with units left, every turn (one more than allowed)."""

    kind = "toy_buyer"
    description = "Toy shop buyer: three buy_now on the first listing, every turn."

    def decide(self, obs: Observation) -> Sequence[ActionBase]:
        open_ = [li for li in obs.market.listings if li.remaining > 0]
        return [BuyNow(listing_id=open_[0].id)] * 3 if obs.role == "buyer" and open_ else []


TOY_RULES = mechanism_rules(
    "toy_shop",
    "toy shop",
    buyer={"buy_now"},
    seller=set(),
    instructions="Toy shop: buy_now(listing_id) buys one unit at the shop's fixed price; at most a few per buyer.",
    checks=(check_toy_shop,),
)


@pytest.fixture
def toy_shop() -> Iterator[None]:
    """The one registration (plus, for the offline LLM run, the trader the stand-in model plays)."""
    register_mechanism(TOY_RULES, ToyShopSpec, ToyShopMarket, metrics=("toy_sales",))
    register(ToyBuyer)
    register_stand_in_trader("toy_shop", lambda obs, strategy: ToyBuyer if obs.role == "buyer" else Idle)
    try:
        yield
    finally:
        unregister_mechanism("toy_shop")
        AGENT_TYPES.pop("toy_buyer", None)
        MECHANISM_STRATEGIES.pop("toy_shop", None)


# --- the runs ---------------------------------------------------------------------------


def _scenario(buyer: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "name": "toy-shop",
        "seed": 3,
        "rounds": 4,
        "mechanism": {"kind": "toy_shop", "price": 5, "limit": 2},
        "population": [
            {"agent": "idle", "n": 2, "role": "seller", "service": "widget", "cost": 1, "capacity": 10},
            {
                "agent": buyer,
                "n": 3,
                "role": "buyer",
                "service": "widget",
                "budget": 100,
                "value": 20,
                "demand": 5,
                "params": params or {},
            },
        ],
    }


def _actions(db: str, run_id: str) -> list[tuple[str, str, int, str, str]]:
    return (
        sqlite3.connect(db)
        .execute("select agent_id, action_type, accepted, rule, reason from actions where run_id=?", (run_id,))
        .fetchall()
    )


def _check_run(s: Session, db: str, run_id: str) -> None:
    rows = [r for r in _actions(db, run_id) if r[0].startswith("buyer")]
    bought = Counter(r[0] for r in rows if r[1] == "buy_now" and r[2])
    assert bought == {f"buyer-{i:03d}": 2 for i in range(3)}, "each buyer bought up to the shop's limit"
    refused = [r for r in rows if not r[2]]
    assert refused and all(r[3] == "capacity" and "at most 2 units" in r[4] for r in refused)
    assert s.summary()["transactions"] == 6
    assert [h["toy_sales"] for h in s.history][-1] == 6, "the mechanism's metric is a round metric"
    assert sum(s.ledger.balances.values()) == 0


def test_the_toy_mechanism_runs_with_scripted_agents(tmp_path, toy_shop) -> None:
    scenario = parse_scenario(_scenario("toy_buyer"))
    assert isinstance(scenario.mechanism, ToyShopSpec)
    db = str(tmp_path / "toy.db")
    s = Session(scenario, store=db)
    run_id = s.run().run_id
    assert s.market.mechanism == "toy_shop"
    _check_run(s, db, run_id)
    # a posted-price action is not one of the toy shop's: the derived mechanism rule refuses it
    verdict = s.protocol.submit(SetPrice(service="widget", price=3), s.market, "seller-000")
    assert (verdict.accepted, verdict.rule) == (False, "mechanism")
    assert "toy shop market" in verdict.reason


def test_the_toy_mechanism_runs_with_llm_agents(tmp_path, toy_shop) -> None:
    register_stand_in(ScriptedStandIn())
    scenario = parse_scenario(_scenario("llm", {"model": "scripted/auto"}))
    db = str(tmp_path / "toy-llm.db")
    s = Session(scenario, store=db)
    run_id = s.run().run_id
    _check_run(s, db, run_id)
    first = {}
    for r in llm_calls(Store(db), run_id):
        if r["event"] == "call":
            first.setdefault(r["agent_id"], r)
    assert set(first) == {f"buyer-{i:03d}" for i in range(3)}
    for r in first.values():
        offered = {t["function"]["name"] for t in json.loads(r["tools_json"])}
        assert offered == actions_for("toy_shop", "buyer") == {"buy_now"}
        assert instructions_for("toy_shop") in json.loads(r["messages_json"])[0]["content"]


def test_the_toy_mechanism_is_gone_after_unregistering() -> None:
    with pytest.raises(ScenarioError, match="unknown mechanism kind 'toy_shop'"):
        parse_scenario(_scenario("zi_c"))
