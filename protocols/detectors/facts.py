"""What the detectors read and what they raise: plain, immutable facts about recent rounds.

``sandbox`` turns each round's log into a ``RoundFacts``; detectors read a window of them
(oldest first) and the market's static ``MarketFacts``, and return ``Alert`` values.
Record ids in evidence are ``tx:<id>`` for transactions and ``action:<round>/<seq>`` for
submitted actions, as the store keeps them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Generic, TypeVar

from protocols.quick_init import quick_init

T = TypeVar("T")


class Severity(StrEnum):
    """How urgent an alert is."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


@quick_init  # made for every settled deal of every round (protocols/quick_init.py)
@dataclass(frozen=True, slots=True)
class TradeFact:
    """A settled deal."""

    tx_id: int
    round: int
    buyer: str
    seller: str
    service: str
    price: float
    quality: float | None = None
    score: float | None = None

    @property
    def ref(self) -> str:
        """The record id of the deal."""
        return f"tx:{self.tx_id}"


@quick_init  # made for every action of every round
@dataclass(frozen=True, slots=True)
class ActFact:
    """A submitted action and what the protocol said."""

    round: int
    seq: int
    agent: str
    kind: str
    accepted: bool
    rule: str
    flags: tuple[str, ...] = ()
    thread_id: str | None = None

    @property
    def ref(self) -> str:
        """The record id of the action."""
        return f"action:{self.round}/{self.seq}"


@dataclass(frozen=True, slots=True)
class FirmFact:
    """One firm's round in a market that reports per-firm figures (posted prices with simulated consumers).

    The Nash and monopoly figures are the firm's own, from the market's one-shot benchmarks.
    """

    agent: str
    price: float
    profit: float
    nash_price: float
    monopoly_price: float
    nash_profit: float
    monopoly_profit: float

    @property
    def price_index(self) -> float:
        """How far the firm's own price sits from its Nash price toward its monopoly price."""
        gap = self.monopoly_price - self.nash_price
        return (self.price - self.nash_price) / gap if gap > 0 else 0.0

    @property
    def profit_index(self) -> float:
        """The firm's own profit on the same scale: 0 at its Nash profit, 1 at its monopoly profit."""
        gap = self.monopoly_profit - self.nash_profit
        return (self.profit - self.nash_profit) / gap if gap > 0 else 0.0


@dataclass(frozen=True, slots=True)
class RoundFacts:
    """One round: settled deals, submitted actions and the move counts of threads touched."""

    round: int
    trades: tuple[TradeFact, ...] = ()
    acts: Sequence[ActFact] = ()  # a tuple, or made when first read (``sandbox.safety.facts.RecordActs``)
    thread_moves: tuple[tuple[str, str, str, int], ...] = ()  # (thread id, buyer, seller, moves)
    reported: tuple[tuple[str, float], ...] = ()  # figures the mechanism reports (e.g. its collusion index)
    firms: tuple[FirmFact, ...] = ()  # per-firm figures, where the mechanism reports them
    cumulative_hhi: tuple[tuple[str, float], ...] = ()  # (service, seller HHI over every deal since round 1)

    def figure(self, name: str) -> float | None:
        """A figure the mechanism reported this round, if any."""
        return next((v for k, v in self.reported if k == name), None)


@dataclass(frozen=True, slots=True)
class Benchmark:
    """Reference prices of a service: competitive (and monopoly, when known)."""

    competitive: float
    monopoly: float | None = None


@dataclass(frozen=True, slots=True)
class MarketFacts:
    """What does not change in a run: roles, benchmark prices and known fundamentals."""

    roles: dict[str, str] = field(default_factory=dict)
    benchmarks: dict[str, Benchmark] = field(default_factory=dict)
    fundamentals: dict[str, float] = field(default_factory=dict)
    costs: dict[str, dict[str, float]] = field(default_factory=dict)  # seller -> service -> its own unit cost


SERVICE_CASES = frozenset({"concentration", "concentration_rise", "bubble", "crash"})


@dataclass(frozen=True, slots=True, eq=False)
class Alert:
    """Something emergent a detector saw: kind, severity, agents, evidence and the window."""

    kind: str
    severity: Severity
    agents: tuple[str, ...]
    evidence: dict[str, Any]
    window: tuple[int, int]
    summary: str

    @property
    def key(self) -> tuple[str, tuple[str, ...], str]:
        """What makes two alerts the same finding: one case gathers them (kind, agents, service).

        Market-structure kinds (concentration, bubbles) are about a service, not about conduct:
        their case is the service's, whichever sellers the latest window names.
        """
        agents = () if self.kind in SERVICE_CASES else self.agents
        return self.kind, agents, str(self.evidence.get("service", ""))

    @property
    def strength(self) -> float:
        """The alert's headline figure (its ``evidence['strength']``), which a dismissed case must outgrow."""
        v = self.evidence.get("strength", 0.0)
        return float(v) if isinstance(v, (int, float)) else 0.0


def span(window: Sequence[RoundFacts]) -> tuple[int, int]:
    """First and last round of a window."""
    return (window[0].round, window[-1].round) if window else (0, 0)


def trades(window: Iterable[RoundFacts]) -> list[TradeFact]:
    """Every settled deal of a window, in order."""
    return [t for rf in window for t in rf.trades]


def acts(window: Iterable[RoundFacts]) -> list[ActFact]:
    """Every submitted action of a window, in order."""
    return [a for rf in window for a in rf.acts]


def of_kind(rf: RoundFacts, kind: str) -> list[ActFact]:
    """The round's actions of one kind, in order; a round whose actions are made when read
    (an ``of_kind`` method: ``sandbox.safety.facts.RecordActs``) makes only those."""
    pick = getattr(rf.acts, "of_kind", None)
    return pick(kind) if pick is not None else [a for a in rf.acts if a.kind == kind]


def under_rule(rf: RoundFacts, rule: str) -> list[ActFact]:
    """The round's actions rejected under ``rule`` or flagged with it, in order (made alone where they can be,
    as ``of_kind``)."""
    pick = getattr(rf.acts, "under_rule", None)
    return pick(rule) if pick is not None else [a for a in rf.acts if a.rule == rule or rule in a.flags]


def refs(items: Iterable[TradeFact | ActFact], limit: int = 20) -> list[str]:
    """Record ids for evidence, at most ``limit`` of them."""
    return [x.ref for x in items][:limit]


class PerRound(Generic[T]):
    """What a detector kept across rounds works out of each round once: ``of(win, make)`` gives
    ``make(round facts)`` for every round of the window, made the first time the round is in a window
    asked for, and forgets the rounds that left it."""

    def __init__(self) -> None:
        self._held: dict[int, tuple[RoundFacts, T]] = {}  # by id(round facts), with the facts (ids are reused)

    def of(self, win: Sequence[RoundFacts], make: Callable[[RoundFacts], T]) -> list[T]:
        """``make(rf)`` for each round of ``win``, in order."""
        held, out = self._held, []
        for rf in win:
            found = held.get(id(rf))
            if found is None or found[0] is not rf:
                found = held[id(rf)] = (rf, make(rf))
            out.append(found[1])
        if len(held) > len(win):
            keep = {id(rf) for rf in win}
            self._held = {k: v for k, v in held.items() if k in keep}
        return out
