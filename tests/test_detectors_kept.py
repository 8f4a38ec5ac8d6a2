"""Detectors kept across rounds (``run_detectors(..., kept)``: collusion, wash) raise what the same detectors
raise on the whole window, round after round, including when a window does not continue the last one."""

from __future__ import annotations

import random
from collections import Counter, deque
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
    if rng.random() < 0.05:  # some rounds, three sellers trade round a ring (wash trading)
        for buyer, seller in (("s4", "s5"), ("s5", "s6"), ("s6", "s4")):
            tx[0] += 1
            trades.append(TradeFact(tx[0], r, buyer, seller, "a", 20.0))
    acts = tuple(
        ActFact(
            r, i, rng.choice(SELLERS), "message", rng.random() < 0.5, "coordination" if rng.random() < 0.3 else "ok"
        )
        for i in range(rng.randrange(0, 3))
    )
    return RoundFacts(r, tuple(trades), acts)


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
    raised: Counter[str] = Counter()
    for r in range(1, 120):
        facts.append(_round(rng, r, tx))
        if r == 60:  # a window that does not continue the last one
            facts = deque((_round(rng, r + 100 + k, tx) for k in range(5)), maxlen=cfg.lookback)
        window = list(facts)
        whole = run_detectors(window, MARKET, cfg)
        assert _seen(run_detectors(window, MARKET, cfg, kept)) == _seen(whole), r
        raised.update(a.kind for a in whole)
    # the comparison saw alerts of both kept detectors, not only empty lists, and rounds without a cycle
    assert raised["collusion"] > 20 and 10 < raised["wash_trading"] < 100
    assert set(kept) == {"collusion", "wash", "concentration", "storms"}
