"""Turning a round's log into what the safety layer's pure parts read, and its rows for the store."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any, overload

from protocols.breakers import Transition
from protocols.detectors import ActFact, Benchmark, FirmFact, MarketFacts, RoundFacts, TradeFact, hhi
from protocols.equilibrium import competitive_price
from protocols.safety import SafetyConfig
from sandbox.market import Market
from sandbox.record import ActionRecord, RoundLog


class RecordActs(Sequence[ActFact]):
    """A round's actions as the detectors read them (``RoundFacts.acts``), made into ``ActFact`` values when
    first read: most rounds no detector reads every action, and the ones read by kind or by rule
    (``protocols.detectors.facts.of_kind``, ``under_rule``) are made alone. The same values, in the same order,
    as a tuple of them made at round end; equal to that tuple."""

    __slots__ = ("_round", "_records", "_made", "_kinds")

    def __init__(self, rnd: int, records: Sequence[ActionRecord]) -> None:
        self._round = rnd
        self._records = tuple(records)
        self._made: tuple[ActFact, ...] | None = None
        self._kinds: dict[str, tuple[ActFact, ...]] = {}  # of_kind's answers (the breakers and storms both ask)

    def _act(self, r: ActionRecord) -> ActFact:
        v = r.verdict
        return ActFact(self._round, r.seq, r.agent_id, r.action_type, v.accepted, v.rule, v.flags, r.thread_id)

    def _all(self) -> tuple[ActFact, ...]:
        made = self._made
        if made is None:
            rnd = self._round
            made = self._made = tuple(  # a list made first: quicker than a generator
                [
                    ActFact(
                        rnd, r.seq, r.agent_id, r.action_type, (v := r.verdict).accepted, v.rule, v.flags, r.thread_id
                    )
                    for r in self._records
                ]
            )
        return made

    def of_kind(self, kind: str) -> list[ActFact]:
        """The actions of one kind, in order (``protocols.detectors.facts.of_kind``)."""
        found = self._kinds.get(kind)
        if found is None:
            if self._made is not None:
                found = tuple([a for a in self._made if a.kind == kind])
            else:
                found = tuple([self._act(r) for r in self._records if r.action_type == kind])
            self._kinds[kind] = found
        return list(found)

    def under_rule(self, rule: str) -> list[ActFact]:
        """The actions rejected under ``rule`` or flagged with it, in order (``protocols.detectors.facts.under_rule``)."""
        if self._made is not None:
            return [a for a in self._made if a.rule == rule or rule in a.flags]
        return [self._act(r) for r in self._records if (v := r.verdict).rule == rule or rule in v.flags]

    def __len__(self) -> int:
        return len(self._records)

    @overload
    def __getitem__(self, i: int) -> ActFact: ...
    @overload
    def __getitem__(self, i: slice) -> tuple[ActFact, ...]: ...
    def __getitem__(self, i: int | slice) -> ActFact | tuple[ActFact, ...]:
        return self._all()[i]

    def __iter__(self) -> Iterator[ActFact]:
        return iter(self._all())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, RecordActs):
            return self._all() == other._all()
        return self._all() == other if isinstance(other, tuple) else NotImplemented

    def __hash__(self) -> int:
        return hash(self._all())

    def __repr__(self) -> str:
        return repr(self._all())


def round_facts(log: RoundLog, market: Market, cumulative: dict[str, dict[str, float]] | None = None) -> RoundFacts:
    """The detectors' view of one round: settled deals, submitted actions, threads' move counts,
    per-firm figures where the mechanism reports them, and each service's HHI since round 1.

    ``cumulative`` (service -> seller -> volume since round 1) is brought up to date with the round's deals.
    """
    trades = tuple(
        TradeFact(
            d.tx_id,
            log.round,
            d.thread.buyer,
            d.thread.seller,
            d.thread.service,
            d.price / 1e6,
            d.thread.quality,
            d.thread.score,
        )
        for d in log.deals
        if d.status == "settled"
    )
    acts = RecordActs(log.round, log.records)  # made when a detector reads them
    moves = []
    for tid in sorted({r.thread_id for r in log.records if r.thread_id}):
        t = market.threads.get(tid)
        if t is not None:
            moves.append((tid, t.buyer, t.seller, t.moves))
    figures = market.round_facts() if hasattr(market, "round_facts") else {}
    reported = tuple(
        sorted((k, float(v)) for k, v in figures.items() if isinstance(v, (int, float)) and not isinstance(v, bool))
    )
    firms = tuple(
        FirmFact(
            f,
            float(v["price"]),
            float(v["profit"]),
            float(v["nash_price"]),
            float(v["monopoly_price"]),
            float(v["nash_profit"]),
            float(v["monopoly_profit"]),
        )
        for f, v in sorted(figures.get("firms", {}).items())
    )
    cum: tuple[tuple[str, float], ...] = ()
    if cumulative is not None:
        for deal in trades:
            by = cumulative.setdefault(deal.service, {})
            by[deal.seller] = by.get(deal.seller, 0.0) + deal.price
        cum = tuple((s, h) for s in sorted(cumulative) if (h := hhi(cumulative[s])) is not None)
    return RoundFacts(log.round, trades, acts, tuple(moves), reported, firms, cum)


def market_facts(market: Market, cfg: SafetyConfig) -> MarketFacts:
    """Roles, benchmark prices (the scenario's, else computed from values and costs) and fundamentals."""
    values: dict[str, list[float]] = {}
    costs: dict[str, list[float]] = {}
    for m in market.members.values():
        for s, v in m.private.values.items():
            values.setdefault(s, []).extend([v] * max(m.private.demand, 1))
        for s, c in m.private.costs.items():
            costs.setdefault(s, []).extend([c] * max(m.private.capacity, 1))
    benchmarks: dict[str, Benchmark] = {}
    for service in sorted(set(values) & set(costs)):
        p = competitive_price(values[service], costs[service])
        if p is not None and p > 0:
            benchmarks[service] = Benchmark(p)
    benchmarks.update({s: b.benchmark() for s, b in cfg.benchmarks.items()})
    own_costs = {aid: dict(m.private.costs) for aid, m in market.members.items() if m.private.costs}
    roles = {aid: m.role for aid, m in market.members.items()}
    return MarketFacts(roles, benchmarks, dict(cfg.fundamentals), own_costs)


def breaker_rows(run_id: str, start_seq: int, transitions: Iterable[Transition]) -> list[dict[str, Any]]:
    """``breaker_events`` rows."""
    return [
        {
            "run_id": run_id,
            "seq": start_seq + i,
            "round": t.round,
            "breaker": t.breaker,
            "subject": t.subject,
            "before": t.before.value,
            "after": t.after.value,
            "reason": t.reason,
        }
        for i, t in enumerate(transitions)
    ]
