"""A new detector is one function, one config model and one registration: all in this file.

Registered, it becomes a field of the scenario's ``safety.detectors``, its window counts in
the facts the session keeps, and its alerts are recorded as cases like any other detector's.
"""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from collections.abc import Iterator, Sequence

import pytest
from pydantic import BaseModel, ConfigDict, Field

from protocols.detectors import Alert, MarketFacts, RoundFacts, Severity
from protocols.detectors.registry import Detector, register_detector, unregister_detector
from sandbox import Session
from sandbox.scenario import ScenarioError, load_scenario, parse_scenario


class BusySellerConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    window: int = Field(3, ge=1)
    min_trades: int = Field(2, ge=1)


def detect_busy_sellers(window: Sequence[RoundFacts], market: MarketFacts, cfg: BusySellerConfig) -> list[Alert]:
    """A seller with at least ``min_trades`` settled deals in the last ``window`` rounds."""
    recent = window[-cfg.window :]
    sales = Counter(t.seller for f in recent for t in f.trades)
    return [
        Alert(
            kind="busy_seller",
            severity=Severity.LOW,
            agents=(seller,),
            evidence={"trades": n, "strength": float(n)},
            window=(recent[0].round, recent[-1].round),
            summary=f"{seller} sold {n} times in {len(recent)} rounds",
        )
        for seller, n in sorted(sales.items())
        if n >= cfg.min_trades
    ]


@pytest.fixture
def busy_seller() -> Iterator[None]:
    register_detector(Detector("busy_seller", BusySellerConfig, detect_busy_sellers, on_by_default=False))
    try:
        yield
    finally:
        unregister_detector("busy_seller")


def _scenario(detectors: dict) -> dict:
    data = load_scenario("services").model_dump(mode="json")
    data["rounds"] = 8
    data["safety"]["detectors"] = detectors
    return data


def test_a_registered_detector_is_a_config_field_with_its_lookback(busy_seller) -> None:
    assert parse_scenario(_scenario({})).safety.detectors.config_of("busy_seller") is None, "off by default"
    on = parse_scenario(_scenario({"busy_seller": {"window": 60}})).safety.detectors
    assert on.config_of("busy_seller") == BusySellerConfig(window=60)
    assert on.lookback == 60, "the session keeps the facts of the longest window"
    with pytest.raises(ScenarioError, match=r"safety\.detectors\.busy_seller\.windw: is not a field here"):
        parse_scenario(_scenario({"busy_seller": {"windw": 3}}))


def test_a_registered_detectors_alerts_are_recorded(tmp_path, busy_seller) -> None:
    scenario = parse_scenario(_scenario({"busy_seller": {"window": 3, "min_trades": 1}}))
    db = str(tmp_path / "d.db")
    s = Session(scenario, store=db)
    run_id = s.run().run_id
    sellers = {d["seller"] for d in _deals(db, run_id)}
    assert sellers, "the services market traded"
    rows = (
        sqlite3.connect(db)
        .execute("select agents_json, summary from alerts where run_id=? and kind='busy_seller'", (run_id,))
        .fetchall()
    )
    flagged = {a for agents, _ in rows for a in json.loads(agents)}
    assert flagged == sellers, "every seller that sold was flagged, and nobody else"


def test_an_unregistered_detector_is_not_a_field() -> None:
    with pytest.raises(ScenarioError, match=r"safety\.detectors\.busy_seller: is not a field here"):
        parse_scenario(_scenario({"busy_seller": {}}))


def _deals(db: str, run_id: str) -> list[dict]:
    con = sqlite3.connect(db)
    con.row_factory = sqlite3.Row
    return [dict(r) for r in con.execute("select * from transactions where run_id=?", (run_id,))]
