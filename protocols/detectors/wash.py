"""Wash and circular trading: cycles in one service's trade graph whose members each end with
about zero net position among themselves (the same service and the money went round and came back).

Cycles are searched per service: two agents who sell each other different services at fair
prices are exchanging, not washing. The cycle's deals must be at about one price
(``price_spread``). Every member of a reported cycle bought and sold inside it
and its own net is within ``net_tolerance`` of its own turnover (both in the evidence).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from statistics import median

import networkx as nx
from pydantic import BaseModel, ConfigDict, Field

from protocols.detectors.facts import Alert, MarketFacts, PerRound, RoundFacts, Severity, TradeFact, refs, span, trades


class WashConfig(BaseModel):
    """When a cycle of trades counts as wash trading."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    window: int = Field(10, ge=1, description="Rounds looked at.")
    max_cycle: int = Field(5, ge=2, description="Longest cycle searched for.")
    net_tolerance: float = Field(0.2, ge=0, description="Largest |net| / turnover of a member that counts as flat.")
    min_trades: int = Field(3, ge=2, description="Deals among the members needed to raise an alert.")
    price_spread: float | None = Field(
        0.25, ge=0, description="Largest distance of a deal's price from the cycle's median price, as a share of it."
    )


def detect_wash(window: Sequence[RoundFacts], market: MarketFacts, cfg: WashConfig) -> list[Alert]:
    """One alert per set of agents that trade one service in a cycle and each end about flat."""
    win = window[-cfg.window :]
    by_service: dict[str, list[TradeFact]] = defaultdict(list)
    for t in trades(win):
        if t.buyer != t.seller:
            by_service[t.service].append(t)
    out: list[Alert] = []
    for service, deals in sorted(by_service.items()):
        out += _wash_in(service, deals, win, cfg)
    return out


class WashWindow:
    """``detect_wash`` kept across rounds (``Detector.kept``): each round's buyers and sellers of each service
    are gathered once. A service whose buyers and sellers in the window are apart (nobody both bought and
    sold it: every deal of a double auction, most rounds of most markets) holds no cycle (``_may_cycle``),
    so a window where every service is so raises nothing and its deals are not read again."""

    def __init__(self, cfg: WashConfig) -> None:
        self.cfg = cfg
        self._sides: PerRound[dict[str, tuple[set[str], set[str]]]] = PerRound()

    def detect(self, window: Sequence[RoundFacts], market: MarketFacts) -> list[Alert]:
        """The alerts of ``detect_wash`` for this window."""
        sides: dict[str, tuple[set[str], set[str]]] = {}
        for by_service in self._sides.of(window[-self.cfg.window :], _sides):
            for service, (buyers, sellers) in by_service.items():
                held = sides.setdefault(service, (set(), set()))
                held[0].update(buyers)
                held[1].update(sellers)
        if all(buyers.isdisjoint(sellers) for buyers, sellers in sides.values()):
            return []
        return detect_wash(window, market, self.cfg)


def _sides(rf: RoundFacts) -> dict[str, tuple[set[str], set[str]]]:
    """Per service, who bought and who sold it in the round (deals with oneself left out, as ``detect_wash`` does)."""
    out: dict[str, tuple[set[str], set[str]]] = {}
    for t in rf.trades:
        if t.buyer != t.seller:
            buyers, sellers = out.setdefault(t.service, (set(), set()))
            buyers.add(t.buyer)
            sellers.add(t.seller)
    return out


def _wash_in(service: str, deals: list[TradeFact], win: Sequence[RoundFacts], cfg: WashConfig) -> list[Alert]:
    edges = [(t.buyer, t.seller) for t in deals]
    if not _may_cycle(edges):
        return []
    graph: nx.DiGraph[str] = nx.DiGraph()
    graph.add_edges_from(edges)
    seen: set[frozenset[str]] = set()
    reported: list[frozenset[str]] = []
    out: list[Alert] = []
    # each cycle is told from its least member, and the cycles are ordered by members, then path: networkx
    # finds them in an order (and from a starting node) that follows string hashing, so PYTHONHASHSEED
    cycles = sorted(
        (_from_least(c) for c in nx.simple_cycles(graph, length_bound=cfg.max_cycle)),
        key=lambda c: (-len(c), sorted(c), c),
    )
    for cycle in cycles:  # longest first, so a ring is reported once, not also as its sub-cycles
        members = frozenset(cycle)
        if members in seen or any(members <= r for r in reported):
            continue
        seen.add(members)
        inside = [t for t in deals if t.buyer in members and t.seller in members]
        if len(inside) < cfg.min_trades:
            continue
        # money that goes round at one price comes back by construction; at very different
        # prices it comes back only when the counts happen to offset (a rating ring, barter)
        mid = median(t.price for t in inside)
        if cfg.price_spread is not None and any(abs(t.price - mid) > cfg.price_spread * mid for t in inside):
            continue
        bought: dict[str, float] = defaultdict(float)
        sold: dict[str, float] = defaultdict(float)
        for t in inside:
            sold[t.seller] += t.price
            bought[t.buyer] += t.price
        share = {m: abs(sold[m] - bought[m]) / (sold[m] + bought[m]) for m in members if sold[m] + bought[m] > 0}
        # every member's own books must be flat and two-sided, not just the worst one's on average
        if any(sold[m] <= 0 or bought[m] <= 0 or share[m] > cfg.net_tolerance for m in members):
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
                    "service": service,
                    "strength": len(inside),
                    "cycle": list(cycle),
                    "trades": len(inside),
                    "volume": round(volume, 2),
                    "net_positions": {m: round(sold[m] - bought[m], 2) for m in agents},
                    "max_net_share": round(max(share.values()), 3),
                    "per_agent": {
                        m: {"bought": round(bought[m], 2), "sold": round(sold[m], 2), "net_share": round(share[m], 3)}
                        for m in agents
                    },
                    "records": refs(inside),
                },
                span(win),
                f"{len(agents)} agents traded {service} {len(inside)} times in a cycle worth {volume:.2f} "
                "and each ended about flat",
            )
        )
    return out


def _from_least(cycle: list[str]) -> list[str]:
    """The same cycle (same direction) started at its least member."""
    i = cycle.index(min(cycle))
    return cycle[i:] + cycle[:i]


def _may_cycle(edges: list[tuple[str, str]]) -> bool:
    """Whether the trade graph can hold a cycle: peel off agents that only buy or only sell.

    A member of a cycle both buys from and sells to other members, so an agent with no buyer
    or no seller left in the graph is in no cycle. In a market where every agent keeps one
    side (most rounds of most markets) nothing is left and the cycle search is skipped.
    """
    if {a for a, _ in edges}.isdisjoint([b for _, b in edges]):
        return False  # nobody both buys and sells (a double auction's traders keep one side): nothing to peel
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
