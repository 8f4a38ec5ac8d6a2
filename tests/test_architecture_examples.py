"""The extension examples of docs/architecture.md run as written (the doc's code is extracted here)."""

from __future__ import annotations

import pathlib
import re

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

    code = next(b for b in _blocks() if "def detect_spikes" in b)
    ns: dict = {
        "BaseModel": BaseModel,
        "Field": Field,
        "Sequence": Sequence,
        "RoundFacts": RoundFacts,
        "MarketFacts": MarketFacts,
        "Alert": Alert,
        "Severity": Severity,
    }
    exec(compile(code, str(DOC), "exec"), ns)

    def trade(r: int, price: float) -> TradeFact:
        return TradeFact(tx_id=r, round=r, buyer="b", seller="s", service="x", price=price)

    calm = [RoundFacts(round=r, trades=(trade(r, 10.0),)) for r in range(1, 6)]
    spiky = [*calm[:4], RoundFacts(round=5, trades=(trade(5, 40.0),))]
    cfg = ns["SpikeConfig"]()
    market = MarketFacts()
    assert ns["detect_spikes"](calm, market, cfg) == []
    [alert] = ns["detect_spikes"](spiky, market, cfg)
    assert alert.kind == "spike" and alert.window == (1, 5)
