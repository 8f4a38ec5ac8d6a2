"""Detectors kept across rounds (``run_detectors(..., kept)``) raise what the same detectors raise on
the whole window, round after round, including when a window does not continue the last one."""

from __future__ import annotations

import random
from collections import deque
from typing import Any

from protocols.detectors import (
    ActFact,
    Alert,
    Benchmark,
    CollusionConfig,
    ConcentrationConfig,
    DetectorsConfig,
    MarketFacts,
    RoundFacts,
    TradeFact,
    run_detectors,
)
from protocols.detectors.concentration import _volumes
from protocols.detectors.window import SellerPrices

SELLERS = [f"s{i}" for i in range(7)]
BUYERS = [f"b{i}" for i in range(7)]
MARKET = MarketFacts(
    roles={**dict.fromkeys(SELLERS, "seller"), **dict.fromkeys(BUYERS, "buyer")},
    benchmarks={"a": Benchmark(10.0), "b": Benchmark(8.0, 20.0)},
    costs={s: {"a": 4.0, "b": 3.0} for s in SELLERS[:4]},
)


def _round(rng: random.Random, r: int, tx: list[int]) -> RoundFacts:
    trades = []
    for _ in range(rng.randrange(0, 9)):
        tx[0] += 1
        seller = rng.choice(SELLERS[:3] if rng.random() < 0.6 else SELLERS)  # a few sellers hold most deals
        price = round(rng.choice([15.0, 15.5, 16.0, 30.0]) + rng.randrange(100) / 100, 2)
        trades.append(TradeFact(tx[0], r, rng.choice(BUYERS), seller, rng.choice("ab"), price))
    acts = tuple(
        ActFact(
            r, i, rng.choice(SELLERS), "message", rng.random() < 0.5, "coordination" if rng.random() < 0.3 else "ok"
        )
        for i in range(rng.randrange(0, 3))
    )
    return RoundFacts(r, tuple(trades), acts)


def _pass_over(window: list[RoundFacts], service: str) -> list[tuple[str, float]]:
    """A seller's volume as one pass over the window's deals adds it up (the detectors' old way)."""
    out: dict[str, float] = {}
    for rf in window:
        for t in rf.trades:
            if t.service == service:
                out[t.seller] = out.get(t.seller, 0.0) + t.price
    return list(out.items())


def _seen(alerts: list[Alert]) -> list[tuple[Any, ...]]:
    return [(a.kind, a.severity, a.agents, a.evidence, a.window, a.summary) for a in alerts]


def test_kept_detectors_raise_what_the_whole_window_raises() -> None:
    cfg = DetectorsConfig(
        collusion=CollusionConfig(window=5, index_threshold=0.1, own_spread=0.5, min_seller_trades=2, min_share=0.2),
        concentration=ConcentrationConfig(window=4, level=1000.0, rise=10.0, min_trades=3),
    )
    rng, tx = random.Random(7), [0]
    facts: deque[RoundFacts] = deque(maxlen=cfg.lookback)
    kept: dict[str, Any] = {}
    held = SellerPrices(4)
    raised = 0
    for r in range(1, 120):
        facts.append(_round(rng, r, tx))
        if r == 60:  # a window that does not continue the last one: read whole again
            facts = deque((_round(rng, r + k, tx) for k in range(5)), maxlen=cfg.lookback)
        window = list(facts)
        held.advance(window)
        for service in "ab":  # the same sums, bit for bit, in the same order
            assert list(_volumes(held, service).items()) == _pass_over(window[-4:], service)
        whole = run_detectors(window, MARKET, cfg)
        assert _seen(run_detectors(window, MARKET, cfg, kept)) == _seen(whole), r
        raised += sum(1 for a in whole if a.kind in ("collusion", "concentration", "concentration_rise"))
    assert raised > 20  # the comparison saw alerts of both kept detectors, not only empty lists
    assert set(kept) == {"collusion", "concentration"}


def test_seller_prices_slide_and_keep_first_deal_order() -> None:
    def rf(r: int, *deals: tuple[str, float]) -> RoundFacts:
        return RoundFacts(r, tuple(TradeFact(r * 10 + i, r, "b", s, "a", p) for i, (s, p) in enumerate(deals)))

    rounds = [rf(1, ("x", 1.0), ("y", 2.0)), rf(2, ("z", 3.0)), rf(3, ("y", 4.0), ("x", 5.0))]
    held = SellerPrices(2)
    assert held.advance(rounds[:2]) == {("a", "x"), ("a", "y"), ("a", "z")}
    assert held.advance(rounds) == {("a", "x"), ("a", "y")}  # round 1 left, round 3 entered
    assert {s: list(p) for s, p in held.prices["a"].items()} == {"z": [3.0], "y": [4.0], "x": [5.0]}
    assert held.sellers("a") == ["z", "y", "x"] and held.count == {"a": 3}
    slid = SellerPrices(3)  # x stays held from round 1 to 4, but its first deal of rounds 2-4 is after y's
    more = [rf(1, ("x", 1.0)), rf(2, ("y", 2.0)), rf(3, ("x", 3.0)), rf(4, ("x", 4.0))]
    slid.advance(more[:3])
    slid.advance(more)
    assert slid.sellers("a") == ["y", "x"] and list(slid.prices["a"]["x"]) == [3.0, 4.0]
    before = SellerPrices(1, skip=2)
    before.advance(rounds)
    assert held.advance([]) and held.prices == {} and held.count == {}
    assert before.sellers("a") == ["x", "y"] and before.count == {"a": 2}
