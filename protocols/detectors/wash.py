"""Wash and circular trading: cycles in the trade graph whose members end with about zero
net position among themselves (money went round and came back)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import networkx as nx
from pydantic import BaseModel, ConfigDict, Field

from protocols.detectors.facts import Alert, MarketFacts, RoundFacts, Severity, refs, span, trades


class WashConfig(BaseModel):
    """When a cycle of trades counts as wash trading."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    window: int = Field(10, ge=1, description="Rounds looked at.")
    max_cycle: int = Field(5, ge=2, description="Longest cycle searched for.")
    net_tolerance: float = Field(0.2, ge=0, description="Largest |net| / turnover of a member that counts as flat.")
    min_trades: int = Field(3, ge=2, description="Deals among the members needed to raise an alert.")


def detect_wash(window: Sequence[RoundFacts], market: MarketFacts, cfg: WashConfig) -> list[Alert]:
    """One alert per set of agents that trade in a cycle and end about flat."""
    win = window[-cfg.window :]
    deals = trades(win)
    edges = [(t.buyer, t.seller) for t in deals if t.buyer != t.seller]
    if not _may_cycle(edges):
        return []
    graph: nx.DiGraph[str] = nx.DiGraph()
    graph.add_edges_from(edges)
    seen: set[frozenset[str]] = set()
    reported: list[frozenset[str]] = []
    out: list[Alert] = []
    cycles = sorted(nx.simple_cycles(graph, length_bound=cfg.max_cycle), key=lambda c: (-len(c), sorted(c)))
    for cycle in cycles:  # longest first, so a ring is reported once, not also as its sub-cycles
        members = frozenset(cycle)
        if members in seen or any(members <= r for r in reported):
            continue
        seen.add(members)
        inside = [t for t in deals if t.buyer in members and t.seller in members]
        if len(inside) < cfg.min_trades:
            continue
        net: dict[str, float] = defaultdict(float)
        turnover: dict[str, float] = defaultdict(float)
        for t in inside:
            net[t.seller] += t.price
            net[t.buyer] -= t.price
            turnover[t.seller] += t.price
            turnover[t.buyer] += t.price
        worst = max(abs(net[m]) / turnover[m] for m in members if turnover[m] > 0)
        if worst > cfg.net_tolerance:
            continue
        reported.append(members)
        agents = tuple(sorted(members))
        volume = sum(t.price for t in inside)
        out.append(
            Alert(
                "wash_trading",
                Severity.HIGH if len(inside) >= 2 * cfg.min_trades else Severity.MEDIUM,
                agents,
                {
                    "cycle": list(cycle),
                    "trades": len(inside),
                    "volume": round(volume, 2),
                    "net_positions": {m: round(net[m], 2) for m in agents},
                    "max_net_share": round(worst, 3),
                    "records": refs(inside),
                },
                span(win),
                f"{len(agents)} agents traded {len(inside)} times in a cycle worth {volume:.2f} and ended about flat",
            )
        )
    return out


def _may_cycle(edges: list[tuple[str, str]]) -> bool:
    """Whether the trade graph can hold a cycle: peel off agents that only buy or only sell.

    A member of a cycle both buys from and sells to other members, so an agent with no buyer
    or no seller left in the graph is in no cycle. In a market where every agent keeps one
    side (most rounds of most markets) nothing is left and the cycle search is skipped.
    """
    succ: dict[str, set[str]] = {}
    pred: dict[str, set[str]] = {}
    for a, b in edges:
        succ.setdefault(a, set()).add(b)
        pred.setdefault(b, set()).add(a)
        succ.setdefault(b, set())
        pred.setdefault(a, set())
    todo = [n for n in succ if not succ[n] or not pred[n]]
    gone: set[str] = set()
    while todo:
        n = todo.pop()
        if n in gone:
            continue
        gone.add(n)
        for m in succ[n]:
            pred[m].discard(n)
            if not pred[m]:
                todo.append(m)
        for m in pred[n]:
            succ[m].discard(n)
            if not succ[m]:
                todo.append(m)
    return len(gone) < len(succ)
