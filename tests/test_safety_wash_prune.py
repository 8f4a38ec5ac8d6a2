"""The wash detector's shortcut: a trade graph it skips has no cycle at all (checked against networkx)."""

from __future__ import annotations

import random

import networkx as nx

from protocols.detectors.wash import _may_cycle


def _has_cycle(edges: list[tuple[str, str]]) -> bool:
    g = nx.DiGraph()
    g.add_edges_from(edges)
    return next(iter(nx.simple_cycles(g)), None) is not None


def test_skip_only_when_no_cycle_random_graphs() -> None:
    rng = random.Random(7)
    skipped = searched = 0
    for _ in range(3000):
        n = rng.randint(2, 9)
        nodes = [f"a{i}" for i in range(n)]
        edges = [(rng.choice(nodes), rng.choice(nodes)) for _ in range(rng.randint(1, 14))]
        edges = [(a, b) for a, b in edges if a != b]
        if not edges:
            continue
        may = _may_cycle(edges)
        assert may == _has_cycle(edges), edges  # exact: peeling leaves something iff a cycle exists
        skipped += not may
        searched += may
    assert skipped > 100 and searched > 100  # both branches exercised


def test_buyers_and_sellers_apart_never_cycle() -> None:
    edges = [(f"b{i}", f"s{j}") for i in range(6) for j in range(6)]
    assert not _may_cycle(edges)
    assert _may_cycle([*edges, ("s0", "b0")])
