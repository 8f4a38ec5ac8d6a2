"""The extension examples of docs/architecture.md run as written (the doc's code is extracted here)."""

from __future__ import annotations

import pathlib
import re

from agents.base import Agent
from agents.observation import Observation
from protocols.actions import ActionBase, BuyNow

DOC = pathlib.Path(__file__).resolve().parents[1] / "docs" / "architecture.md"


def _blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S)


def test_the_agent_example_makes_offers_in_a_market(tmp_path) -> None:
    import sqlite3

    from agents.registry import AGENT_TYPES
    from sandbox import Session

    code = next(b for b in _blocks() if "class Lowballer" in b)
    ns: dict = {}
    try:
        exec(compile(code, str(DOC), "exec"), ns)
        assert AGENT_TYPES["lowballer"] is ns["Lowballer"]
        db = str(tmp_path / "x.db")
        s = Session(seed=1, rounds=3, store=db)
        s.spawn("markup_seller", n=2, role="seller", service="translation", cost=10, capacity=3, markup=0.2)
        s.spawn("lowballer", n=3, role="buyer", service="translation", budget=100, value=50, demand=1)
        run_id = s.run().run_id
        rows = (
            sqlite3.connect(db)
            .execute("select payload, accepted from actions where run_id=? and agent_id like 'buyer%'", (run_id,))
            .fetchall()
        )
        assert rows and all('"make_offer"' in p for p, _ in rows)
        assert any(ok for _, ok in rows), "a half-price offer is a legal move"
    finally:
        AGENT_TYPES.pop("lowballer", None)


def test_the_detector_example_raises_on_a_spike() -> None:
    from collections.abc import Sequence

    from pydantic import BaseModel, Field

    from protocols.detectors.facts import Alert, MarketFacts, RoundFacts, Severity, TradeFact
    from protocols.detectors.registry import Detector, register_detector, unregister_detector

    code = next(b for b in _blocks() if "def detect_spikes" in b)
    ns: dict = {
        "BaseModel": BaseModel,
        "Field": Field,
        "Sequence": Sequence,
        "RoundFacts": RoundFacts,
        "MarketFacts": MarketFacts,
        "Alert": Alert,
        "Severity": Severity,
        "Detector": Detector,
        "register_detector": register_detector,
    }
    exec(compile(code, str(DOC), "exec"), ns)
    unregister_detector("spike")  # the example registers it; this test calls the function directly

    def trade(r: int, price: float) -> TradeFact:
        return TradeFact(tx_id=r, round=r, buyer="b", seller="s", service="x", price=price)

    calm = [RoundFacts(round=r, trades=(trade(r, 10.0),)) for r in range(1, 6)]
    spiky = [*calm[:4], RoundFacts(round=5, trades=(trade(5, 40.0),))]
    cfg = ns["SpikeConfig"]()
    market = MarketFacts()
    assert ns["detect_spikes"](calm, market, cfg) == []
    [alert] = ns["detect_spikes"](spiky, market, cfg)
    assert alert.kind == "spike" and alert.window == (1, 5)


class HouseBuyer(Agent):
    """Buys the cheapest listing at its ask (the buyer of the mechanism example's market)."""

    kind = "house_buyer"
    description = "Buys the cheapest listing at its ask."

    def decide(self, obs: Observation) -> list[ActionBase]:
        open_ = [li for li in obs.market.listings if li.remaining > 0 and li.seller != self.id]
        return [BuyNow(listing_id=min(open_, key=lambda li: li.ask_price).id)] if open_ else []


def test_the_mechanism_example_trades_in_a_session(tmp_path) -> None:
    import sqlite3
    from typing import Literal

    from pydantic import BaseModel

    from protocols.market_rules import check_posted
    from protocols.mechanism_table import mechanism_rules, rules_of
    from sandbox import Session
    from sandbox.market import Market
    from sandbox.mechanisms.registry import register_mechanism, unregister_mechanism
    from sandbox.mechanisms.trades import trade_now
    from sandbox.scenario import parse_scenario

    code = next(b for b in _blocks() if "class HouseMarket" in b)
    ns: dict = {
        "BaseModel": BaseModel,
        "Literal": Literal,
        "Market": Market,
        "BuyNow": BuyNow,
        "trade_now": trade_now,
        "register_mechanism": register_mechanism,
        "mechanism_rules": mechanism_rules,
        "check_posted": check_posted,
    }
    try:
        exec(compile(code, str(DOC), "exec", dont_inherit=True), ns)  # real annotations for pydantic
        assert rules_of("house") is not None
        scenario = parse_scenario(
            {
                "seed": 2,
                "rounds": 4,
                "mechanism": {"kind": "house"},
                "population": [
                    {"agent": "markup_seller", "n": 2, "role": "seller", "service": "s", "cost": 5, "capacity": 3},
                    {
                        "agent": f"{__name__}:HouseBuyer",
                        "n": 3,
                        "role": "buyer",
                        "service": "s",
                        "budget": 100,
                        "value": 50,
                    },
                ],
            }
        )
        db = str(tmp_path / "h.db")
        s = Session(scenario, store=db)
        run_id = s.run().run_id
        kinds = dict(
            sqlite3.connect(db)
            .execute("select action_type, sum(accepted) from actions where run_id=? group by action_type", (run_id,))
            .fetchall()
        )
        assert kinds.get("post_service", 0) > 0 and kinds.get("buy_now", 0) > 0, kinds
        assert kinds.get("make_offer", 0) == 0, "the mechanism refuses what its record does not list"
        assert s.summary()["transactions"] == kinds["buy_now"]
    finally:
        unregister_mechanism("house")


def test_the_detector_example_registers(tmp_path) -> None:
    from collections.abc import Sequence

    from pydantic import BaseModel, Field

    from protocols.detectors import DetectorsConfig
    from protocols.detectors.facts import Alert, MarketFacts, RoundFacts, Severity
    from protocols.detectors.registry import Detector, register_detector, unregister_detector

    code = next(b for b in _blocks() if "def detect_spikes" in b)
    ns: dict = {
        "BaseModel": BaseModel,
        "Field": Field,
        "Sequence": Sequence,
        "RoundFacts": RoundFacts,
        "MarketFacts": MarketFacts,
        "Alert": Alert,
        "Severity": Severity,
        "Detector": Detector,
        "register_detector": register_detector,
    }
    try:
        exec(compile(code, str(DOC), "exec"), ns)
        cfg = DetectorsConfig.model_validate({"spike": {"window": 40}})
        assert cfg.config_of("spike") == ns["SpikeConfig"](window=40) and cfg.lookback == 40
    finally:
        unregister_detector("spike")


def test_the_page_example_renders(tmp_path, monkeypatch) -> None:
    from streamlit.testing.v1 import AppTest

    from sandbox import Session

    code = next(b for b in _blocks() if "# ui/views/volume.py" in b)
    script = tmp_path / "volume.py"
    script.write_text(code)
    db = str(tmp_path / "v.db")
    s = Session(seed=1, rounds=3, store=db)
    s.spawn("markup_seller", n=2, role="seller", service="s", cost=10, capacity=3)
    s.spawn("zi_c", n=2, role="buyer", service="s", budget=100, value=50)
    s.run()
    monkeypatch.setenv("AGORA_DB", db)
    at = AppTest.from_file(str(script), default_timeout=60).run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.title[0].value == "Volume"
    assert at.get("arrow_vega_lite_chart") or at.get("vega_lite_chart"), "the chart was drawn"
