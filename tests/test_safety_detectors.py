"""Emergence detectors on hand-made rounds: each fires on its pattern and stays quiet otherwise."""

from __future__ import annotations

import itertools

from protocols.detectors import (
    ActFact,
    Benchmark,
    BubbleConfig,
    CollusionConfig,
    ConcentrationConfig,
    DetectorsConfig,
    MarketFacts,
    RingConfig,
    RoundFacts,
    Severity,
    StormConfig,
    TradeFact,
    WashConfig,
    collusion_index,
    detect_bubbles,
    detect_collusion,
    detect_concentration,
    detect_rings,
    detect_storms,
    detect_wash,
    hhi,
    run_detectors,
)
from protocols.equilibrium import competitive_price

_tx = itertools.count(1)


def trade(
    r: int, buyer: str, seller: str, price: float, service: str = "svc", quality: float = 1.0, score: float = 1.0
) -> TradeFact:
    return TradeFact(next(_tx), r, buyer, seller, service, price, quality, score)


def rounds(trades: list[TradeFact], acts: list[ActFact] = ()) -> list[RoundFacts]:  # type: ignore[assignment]
    last = max([t.round for t in trades] + [a.round for a in acts] + [1])
    return [
        RoundFacts(r, tuple(t for t in trades if t.round == r), tuple(a for a in acts if a.round == r))
        for r in range(1, last + 1)
    ]


MARKET = MarketFacts(benchmarks={"svc": Benchmark(50.0)}, fundamentals={"svc": 50.0})


# --- collusion ------------------------------------------------------------------------
def test_collusion_index_and_competitive_price() -> None:
    assert collusion_index(75, Benchmark(50)) == 0.5
    assert collusion_index(75, Benchmark(50, 100)) == 0.5
    assert competitive_price([10, 8, 6], [2, 4, 7]) == 6.5
    assert competitive_price([5], [6]) is None


def test_collusion_fires_on_parallel_high_prices_with_coordination_talk() -> None:
    ts = [trade(r, f"b{r}{i}", s, 80.0 + 0.5 * (s == "s2")) for r in range(1, 5) for i, s in enumerate(["s1", "s2"])]
    talk = [ActFact(1, 1, "s1", "message", False, "coordination", ("coordination",))]
    (alert,) = detect_collusion(rounds(ts, talk), MARKET, CollusionConfig())
    assert alert.kind == "collusion" and alert.severity is Severity.HIGH and alert.agents == ("s1", "s2")
    assert alert.evidence["collusion_index"] > 0.5 and alert.evidence["coordination_messages"] == ["action:1/1"]
    assert all(r.startswith("tx:") for r in alert.evidence["records"])


def test_collusion_quiet_on_dispersed_or_competitive_prices() -> None:
    dispersed = [trade(r, "b", s, p) for r in range(1, 5) for s, p in (("s1", 80.0), ("s2", 55.0))]
    assert detect_collusion(rounds(dispersed), MARKET, CollusionConfig()) == []
    competitive = [trade(r, "b", s, 51.0) for r in range(1, 5) for s in ("s1", "s2")]
    assert detect_collusion(rounds(competitive), MARKET, CollusionConfig()) == []


def test_coordination_talk_alone_raises_a_low_alert() -> None:
    talk = [ActFact(2, 4, "s9", "message", False, "coordination", ("coordination",))]
    (alert,) = detect_collusion(rounds([], talk), MARKET, CollusionConfig())
    assert alert.severity is Severity.LOW and alert.agents == ("s9",)


# --- wash trading ---------------------------------------------------------------------
def test_wash_fires_on_a_flat_cycle() -> None:
    ts = [trade(r, a, b, 30.0) for r in (1, 2) for a, b in (("x", "y"), ("y", "z"), ("z", "x"))]
    (alert,) = detect_wash(rounds(ts), MARKET, WashConfig())
    assert alert.agents == ("x", "y", "z") and alert.evidence["max_net_share"] == 0.0
    assert alert.evidence["trades"] == 6 and alert.severity is Severity.HIGH


def test_wash_quiet_when_money_does_not_come_back() -> None:
    lopsided = [trade(1, "x", "y", 100.0), trade(1, "y", "z", 10.0), trade(1, "z", "x", 10.0)]
    assert detect_wash(rounds(lopsided), MARKET, WashConfig()) == []
    one_way = [trade(r, f"b{r}", "s1", 30.0) for r in range(1, 6)]
    assert detect_wash(rounds(one_way), MARKET, WashConfig()) == []


# --- concentration --------------------------------------------------------------------
def test_hhi_scale() -> None:
    assert hhi({"a": 1.0}) == 10000
    assert round(hhi({"a": 1, "b": 1, "c": 1, "d": 1}), 6) == 2500
    assert hhi({}) is None


def test_concentration_level_and_rise_are_two_kinds() -> None:
    before = [trade(r, "b", s, 10.0) for r in range(1, 11) for s in ("s1", "s2", "s3", "s4", "s5", "s6")]
    after = [trade(r, "b", s, 10.0) for r in range(11, 21) for s in ("s1", "s1", "s1", "s2")]
    level, rise = detect_concentration(rounds(before + after), MARKET, ConcentrationConfig())
    assert level.kind == "concentration" and level.evidence["window_hhi"] == 6250.0
    assert level.agents == ("s1", "s2")  # each holds at least 18% of the window's volume
    assert level.evidence["per_agent"]["s1"]["share"] == 0.75
    from protocols.detectors.concentration import sample_corrected

    # 40 deals in each window; both HHIs corrected for the sample before they are compared
    assert level.evidence["window_hhi_corrected"] == round(sample_corrected(6250, 40), 1)
    expected = sample_corrected(6250, 40) - sample_corrected(10000 / 6, 60)
    assert rise.kind == "concentration_rise" and rise.evidence["rise"] == round(expected, 1)
    assert rise.agents == ("s1", "s2")  # contributions rose 278 -> 5625 and 278 -> 625 (> 50 each)
    assert rise.evidence["per_agent"]["s1"]["previous_share"] == round(1 / 6, 3)


def test_a_thin_window_of_an_unconcentrated_market_does_not_pass_by_chance() -> None:
    from protocols.detectors.concentration import sample_corrected

    # nine sellers, 20 deals: the measured HHI is 1,900, above 1,800, by the luck of the draw
    sellers = ["s1"] * 7 + ["s2"] * 3 + ["s3"] * 3 + ["s4"] * 2 + ["s5", "s6", "s7", "s8", "s9"]
    thin = [trade(11 + i // 2, "b", s, 10.0) for i, s in enumerate(sellers)]
    assert round(hhi({s: sellers.count(s) for s in set(sellers)})) == 1900
    assert round(sample_corrected(1900, 20)) == 1474
    assert detect_concentration(rounds(thin), MARKET, ConcentrationConfig()) == []
    assert sample_corrected(10000, 20) == 10000


def test_concentration_level_alone_and_thin_markets() -> None:
    stable = [trade(r, "b", s, 10.0) for r in range(1, 21) for s in ("s1", "s2", "s3")]
    (level,) = detect_concentration(rounds(stable), MARKET, ConcentrationConfig())  # 3333, no rise
    assert level.kind == "concentration" and level.agents == ("s1", "s2", "s3")
    assert detect_concentration(rounds(stable), MARKET, ConcentrationConfig(level=None)) == []
    thin = [trade(r, "b", "s1", 10.0) for r in range(11, 14)]
    assert detect_concentration(rounds(thin), MARKET, ConcentrationConfig()) == []


# --- storms and runaway threads -----------------------------------------------------------
def test_storm_fires_on_an_agent_flooding_and_on_long_threads() -> None:
    msgs = [ActFact(1, i, "spam", "message", i < 3, "ok" if i < 3 else "rate_limit") for i in range(10)]
    facts = [RoundFacts(1, (), tuple(msgs), (("T1", "b", "s", 45),))]
    alerts = detect_storms(facts, MARKET, StormConfig())
    kinds = sorted((a.kind, a.agents) for a in alerts)
    assert kinds == [("message_storm", ("spam",)), ("runaway_thread", ("b", "s"))]
    storm = next(a for a in alerts if a.kind == "message_storm")
    assert storm.evidence["messages"] == 10 and storm.evidence["rejected"] == 7


def test_market_wide_storm() -> None:
    msgs = [ActFact(1, i, f"a{i % 20}", "message", True, "ok") for i in range(70)]
    alerts = detect_storms([RoundFacts(1, (), tuple(msgs))], MARKET, StormConfig())
    assert [a.evidence["scope"] for a in alerts] == ["market"]


def test_storm_quiet_on_normal_chatter() -> None:
    msgs = [ActFact(1, i, f"a{i}", "message", True, "ok") for i in range(10)]
    assert detect_storms([RoundFacts(1, (), tuple(msgs), (("T1", "b", "s", 6),))], MARKET, StormConfig()) == []


# --- bubbles and crashes --------------------------------------------------------------
def test_bubble_and_crash_against_fundamentals() -> None:
    rising = [trade(r, "b", "s", 60.0 + 10 * r) for r in range(1, 7)]
    (bubble,) = detect_bubbles(rounds(rising), MARKET, BubbleConfig())
    assert bubble.kind == "bubble" and bubble.severity is Severity.HIGH and bubble.evidence["ratio"] > 1.5
    falling = [trade(r, "b", "s", 20.0 - r) for r in range(1, 7)]
    assert detect_bubbles(rounds(falling), MARKET, BubbleConfig())[0].kind == "crash"


def test_bubble_quiet_near_fundamentals_or_without_them() -> None:
    near = [trade(r, "b", "s", 50.0 + r) for r in range(1, 7)]
    assert detect_bubbles(rounds(near), MARKET, BubbleConfig()) == []
    far = [trade(r, "b", "s", 500.0) for r in range(1, 7)]
    assert detect_bubbles(rounds(far), MarketFacts(), BubbleConfig()) == []


# --- reputation rings ---------------------------------------------------------------------
def test_ring_fires_on_mutual_high_ratings_inside_a_closed_group() -> None:
    ts = [trade(r, a, b, 20.0, quality=0.2, score=1.0) for r in (1, 2) for a, b in itertools.permutations("xyz", 2)]
    (alert,) = detect_rings(rounds(ts), MARKET, RingConfig())
    assert alert.agents == ("x", "y", "z") and alert.evidence["inside_share"] == 1.0
    assert alert.severity is Severity.HIGH and alert.evidence["score_minus_quality"] == 0.8


def test_ring_quiet_for_ordinary_buyers_rating_sellers() -> None:
    ts = [trade(r, f"b{i}", f"s{i % 3}", 20.0, score=1.0) for r in (1, 2) for i in range(9)]
    assert detect_rings(rounds(ts), MARKET, RingConfig()) == []
    open_group = [trade(1, a, b, 20.0) for a, b in itertools.permutations("xyz", 2)]
    open_group += [trade(1, "x", f"s{i}", 20.0, score=0.1) for i in range(10)]
    assert detect_rings(rounds(open_group), MARKET, RingConfig()) == []  # x trades mostly outside


def test_run_detectors_respects_switches() -> None:
    ts = [trade(r, a, b, 30.0) for r in (1, 2) for a, b in (("x", "y"), ("y", "z"), ("z", "x"))]
    assert {a.kind for a in run_detectors(rounds(ts), MARKET, DetectorsConfig())} >= {"wash_trading"}
    assert run_detectors(rounds(ts), MARKET, DetectorsConfig(wash=None, rings=None)) == []
    assert run_detectors([], MARKET, DetectorsConfig()) == []


def test_collusion_ignores_a_parallel_fringe_and_uses_medians() -> None:
    fringe = [trade(r, "b", s, 80.0) for r in range(1, 5) for s in ("s1", "s2")]
    fringe += [trade(r, "b", f"c{i}", 50.0 + 7 * i) for r in range(1, 5) for i in range(6)]  # most volume elsewhere
    assert [
        a for a in detect_collusion(rounds(fringe), MARKET, CollusionConfig()) if a.severity is not Severity.LOW
    ] == []
    outlier = [trade(r, "b", s, 80.0) for r in range(1, 5) for s in ("s1", "s2")] + [trade(2, "b", "s1", 190.0)]
    (alert,) = detect_collusion(rounds(outlier), MARKET, CollusionConfig())  # one overpayment keeps the parallel
    assert {s: f["median_price"] for s, f in alert.evidence["per_agent"].items()} == {"s1": 80.0, "s2": 80.0}


def test_collusion_quiet_when_each_seller_scatters_its_prices() -> None:
    # equal medians by chance, but random prices around them: zero-intelligence, not a cartel
    scattered = [
        trade(r, "b", s, p)
        for s in ("s1", "s2")
        for r, p in zip(range(1, 6), (40.0, 180.0, 80.0, 81.0, 150.0), strict=True)
    ]
    assert detect_collusion(rounds(scattered), MARKET, CollusionConfig()) == []
    assert detect_collusion(
        rounds(scattered), MARKET, CollusionConfig(own_spread=None)
    )  # the check is what keeps it quiet


def test_reported_collusion_names_firms_by_their_own_price_and_profit() -> None:
    from protocols.detectors import FirmFact, detect_reported_collusion

    def firm(a: str, price: float, profit: float) -> FirmFact:
        return FirmFact(a, price, profit, 1.47, 1.93, 0.22, 0.34)

    market = MarketFacts(roles={"f1": "seller", "f2": "seller", "f3": "seller"})
    high = [
        RoundFacts(r, reported=(("collusion_index", 0.9),), firms=(firm("f1", 1.9, 0.33), firm("f2", 1.9, 0.33)))
        for r in range(1, 9)
    ]
    (alert,) = detect_reported_collusion(high, market, CollusionConfig())
    assert alert.agents == ("f1", "f2") and alert.evidence["per_agent"]["f1"]["profit_index"] > 0.9
    assert detect_reported_collusion(high[:5], market, CollusionConfig()) == []  # too short
    reported_only = [RoundFacts(r, reported=(("collusion_index", 0.9),)) for r in range(1, 9)]
    assert detect_reported_collusion(reported_only, market, CollusionConfig()) == []  # no per-firm figures
