"""The round end's incremental forms against the old full rescans, on random fact streams (hypothesis):

- a round's actions made when read (``sandbox.safety.facts.RecordActs``) are the tuple of ``ActFact`` values
  the round end used to make, and picking them by kind or by rule picks what a scan of that tuple picks;
- the detectors kept across rounds (concentration, storms, collusion, wash) raise, round after round, what
  the same detectors raise on the whole window, with the rounds' actions as tuples or made when read.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from protocols.detectors import (
    ActFact,
    Alert,
    Benchmark,
    CollusionConfig,
    ConcentrationConfig,
    DetectorsConfig,
    MarketFacts,
    RoundFacts,
    StormConfig,
    TradeFact,
    run_detectors,
)
from protocols.detectors.facts import of_kind, under_rule
from protocols.verdict import Verdict
from sandbox.record import ActionRecord
from sandbox.safety.facts import RecordActs

AGENTS = ["s0", "s1", "s2", "s3", "b0", "b1", "b2"]
KINDS = ["message", "order", "accept", "post_service"]
RULES = ["ok", "coordination", "rate_limit", "funds"]
MARKET = MarketFacts(
    roles={a: "seller" if a.startswith("s") else "buyer" for a in AGENTS},
    benchmarks={"a": Benchmark(10.0), "b": Benchmark(8.0, 20.0)},
    costs={s: {"a": 4.0, "b": 3.0} for s in AGENTS[:2]},
)

records = st.lists(
    st.builds(
        lambda seq, agent, kind, accepted, rule, flags, thread: ActionRecord(
            seq, agent, kind, "{}", Verdict(accepted, rule, "", (), tuple(flags)), thread
        ),
        st.integers(0, 10_000),
        st.sampled_from(AGENTS),
        st.sampled_from(KINDS),
        st.booleans(),
        st.sampled_from(RULES),
        st.lists(st.sampled_from(RULES), max_size=2),
        st.none() | st.sampled_from(["t1", "t2"]),
    ),
    max_size=30,
)


def _tuple_acts(rnd: int, recs: list[ActionRecord]) -> tuple[ActFact, ...]:
    """The round's actions as the round end made them before (every one, at round end)."""
    return tuple(
        ActFact(rnd, r.seq, r.agent_id, r.action_type, r.verdict.accepted, r.verdict.rule, r.verdict.flags, r.thread_id)
        for r in recs
    )


@given(records, st.integers(1, 500), st.booleans())
def test_actions_made_when_read_are_the_tuple_made_at_round_end(recs: list[ActionRecord], rnd: int, read: bool) -> None:
    made, lazy = _tuple_acts(rnd, recs), RecordActs(rnd, recs)
    if read:  # picked before or after every action was made: the same either way
        assert list(lazy) == list(made)
    old, new = RoundFacts(rnd, acts=made), RoundFacts(rnd, acts=lazy)
    for kind in KINDS:
        assert of_kind(new, kind) == of_kind(old, kind) == [a for a in made if a.kind == kind]
    for rule in RULES:
        assert under_rule(new, rule) == under_rule(old, rule) == [a for a in made if a.rule == rule or rule in a.flags]
    assert new == old and lazy == made and hash(lazy) == hash(made) and len(lazy) == len(made)
    assert lazy[1:] == made[1:] and repr(lazy) == repr(made)


def _seen(alerts: list[Alert]) -> list[tuple[Any, ...]]:
    return [(a.kind, a.severity, a.agents, a.evidence, a.window, a.summary) for a in alerts]


trade = st.tuples(
    st.sampled_from(["b0", "b1", "b2", "s3"]),
    st.sampled_from(["s0", "s0", "s1", "s2", "s3"]),  # s0 more often: concentration
    st.sampled_from("ab"),
    st.sampled_from([15.0, 15.5, 16.0, 30.0, 2.5]),
    st.integers(0, 99),
)
round_ = st.tuples(st.lists(trade, max_size=10), records, st.booleans())


@settings(max_examples=60, deadline=None)
@given(st.lists(round_, min_size=1, max_size=40), st.integers(0, 39), st.integers(1, 6), st.integers(1, 4))
def test_kept_detectors_raise_what_the_whole_window_raises(
    rounds: list[tuple[list[Any], list[ActionRecord], bool]], restart: int, window: int, bound: int
) -> None:
    cfg = DetectorsConfig(
        collusion=CollusionConfig(window=window, index_threshold=0.1, own_spread=0.5, min_seller_trades=2),
        concentration=ConcentrationConfig(window=window, level=1000.0, rise=10.0, min_trades=2),
        storms=StormConfig(window=window, agent_messages=bound, market_messages=2 * bound),
    )
    facts: deque[RoundFacts] = deque(maxlen=cfg.lookback)
    kept: dict[str, Any] = {}
    tx = 0
    for r, (deals, recs, lazy) in enumerate(rounds, start=1):
        trades = []
        for buyer, seller, service, price, cents in deals:
            tx += 1
            trades.append(TradeFact(tx, r, buyer, seller, service, price + cents / 100))
        acts = RecordActs(r, recs) if lazy else _tuple_acts(r, recs)
        facts.append(RoundFacts(r, tuple(trades), acts))
        if r == restart:  # a window that does not continue the last one
            facts = deque(list(facts)[-1:], maxlen=cfg.lookback)
        window_ = list(facts)
        assert _seen(run_detectors(window_, MARKET, cfg, kept)) == _seen(run_detectors(window_, MARKET, cfg)), r


volumes = st.dictionaries(st.sampled_from(AGENTS), st.floats(0, 1e9) | st.integers(0, 10**15), max_size=7)


@given(volumes)
def test_hhi_and_gini_in_c_are_the_generator_sums(vol: dict[str, float]) -> None:
    from protocols.detectors.concentration import hhi as window_hhi
    from sandbox.metrics import gini, hhi

    total = sum(vol.values())
    old = None if total <= 0 else sum((100.0 * v / total) ** 2 for v in vol.values())
    assert hhi(vol) == old and window_hhi(vol) == old
    xs = sorted(v / 1e6 for v in vol.values())
    n, tot = len(xs), sum(xs)
    old_gini = (
        None if n == 0 or tot <= 0 else (2 * sum([(i + 1) * x for i, x in enumerate(xs)])) / (n * tot) - (n + 1) / n
    )
    assert gini(v / 1e6 for v in vol.values()) == old_gini


@given(st.lists(st.lists(trade, max_size=12), max_size=12))
def test_sums_from_each_rounds_sellers_are_the_sums_over_the_deals(rounds: list[list[Any]]) -> None:
    from protocols.detectors.concentration import _by_service, _sellers_and_prices, _summed
    from protocols.detectors.facts import trades

    facts = [
        RoundFacts(r, tuple(TradeFact(i, r, b, s, svc, p + c / 100) for i, (b, s, svc, p, c) in enumerate(deals)))
        for r, deals in enumerate(rounds, start=1)
    ]
    counts, vols = _summed(_sellers_and_prices(rf) for rf in facts)
    old_counts, old_vols = _by_service(trades(facts))
    assert counts == old_counts and vols == old_vols
    assert [list(v.items()) for v in vols.values()] == [list(v.items()) for v in old_vols.values()]  # and in order
