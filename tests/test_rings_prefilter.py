"""The ring detector skips its graph when too few agents both give and receive high ratings (``_on_cycles``);
whatever the deals, it raises what building the graph every round raises."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocols.detectors import rings
from protocols.detectors.facts import MarketFacts, RoundFacts, TradeFact
from protocols.detectors.rings import RingConfig, detect_rings

AGENTS = ["a", "b", "c", "d", "e", "f"]
DEAL = st.tuples(
    st.sampled_from(AGENTS),
    st.sampled_from(AGENTS),
    st.one_of(st.none(), st.sampled_from([0.2, 0.8, 0.95, 1.0])),
    st.one_of(st.none(), st.sampled_from([0.1, 0.5, 1.0])),
)


def _window(rounds: list[list[tuple[str, str, float | None, float | None]]]) -> list[RoundFacts]:
    tx = 0
    out = []
    for r, deals in enumerate(rounds, start=1):
        facts = []
        for buyer, seller, score, quality in deals:
            tx += 1
            facts.append(TradeFact(tx, r, buyer, seller, "x", 10.0, quality, score))
        out.append(RoundFacts(r, tuple(facts)))
    return out


@settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(DEAL, max_size=8), min_size=1, max_size=6), st.integers(2, 4))
def test_the_prefilter_changes_no_alert(rounds: list[Any], min_size: int) -> None:
    window, cfg = _window(rounds), RingConfig(min_size=min_size, inside_share=0.5, min_inflation=0.0)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(rings, "_on_cycles", lambda edges: {x for e in edges for x in e} | set(AGENTS))
        every_time = detect_rings(window, MarketFacts(), cfg)
    assert repr(detect_rings(window, MarketFacts(), cfg)) == repr(every_time)  # (alerts compare by identity)


def test_a_ring_is_still_found_and_one_way_ratings_build_no_graph(monkeypatch: pytest.MonkeyPatch) -> None:
    ring = [[("a", "b", 1.0, 0.2), ("b", "c", 1.0, 0.2), ("c", "a", 1.0, 0.2)] for _ in range(3)]
    found = detect_rings(_window(ring), MarketFacts(), RingConfig())
    assert [a.agents for a in found] == [("a", "b", "c")]
    built: list[int] = []
    real = rings.nx.DiGraph
    monkeypatch.setattr(rings.nx, "DiGraph", lambda: built.append(1) or real())
    one_way = [[("a", "d", 1.0, 0.2), ("b", "d", 1.0, 0.2), ("c", "e", 1.0, 0.2), ("d", "e", 1.0, 0.2)]]
    assert detect_rings(_window(one_way), MarketFacts(), RingConfig()) == [] and not built
    assert rings._on_cycles([("a", "d"), ("d", "a"), ("d", "e")]) == {"a", "d"}
