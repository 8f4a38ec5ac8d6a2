"""Turning a round's log into what the safety layer's pure parts read, and its rows for the store."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from protocols.breakers import Transition
from protocols.detectors import ActFact, Benchmark, MarketFacts, RoundFacts, TradeFact
from protocols.equilibrium import competitive_price
from protocols.safety import SafetyConfig
from sandbox.market import Market
from sandbox.record import RoundLog


def round_facts(log: RoundLog, market: Market) -> RoundFacts:
    """The detectors' view of one round: settled deals, submitted actions, threads' move counts."""
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
    acts = tuple(
        ActFact(
            log.round,
            r.seq,
            r.agent_id,
            r.action_type,
            r.verdict.accepted,
            r.verdict.rule,
            r.verdict.flags,
            r.thread_id,
        )
        for r in log.records
    )
    moves = []
    for tid in sorted({r.thread_id for r in log.records if r.thread_id}):
        t = market.threads.get(tid)
        if t is not None:
            moves.append((tid, t.buyer, t.seller, t.moves))
    figures = market.round_facts() if hasattr(market, "round_facts") else {}
    reported = tuple(
        sorted((k, float(v)) for k, v in figures.items() if isinstance(v, (int, float)) and not isinstance(v, bool))
    )
    return RoundFacts(log.round, trades, acts, tuple(moves), reported)


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
    return MarketFacts({aid: m.role for aid, m in market.members.items()}, benchmarks, dict(cfg.fundamentals))


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


def alert_row(
    run_id: str,
    alert_id: str,
    round_: int,
    alert: Any,
    status: str,
    auto: bool,
    applied: list[Mapping[str, Any]] | None,
) -> dict[str, Any]:
    """An ``alerts`` row."""
    return {
        "run_id": run_id,
        "alert_id": alert_id,
        "round": round_,
        "kind": alert.kind,
        "severity": alert.severity.value,
        "agents_json": json.dumps(list(alert.agents)),
        "evidence_json": json.dumps(alert.evidence, sort_keys=True, default=str),
        "window_start": alert.window[0],
        "window_end": alert.window[1],
        "summary": alert.summary,
        "status": status,
        "auto": auto,
        "decision": "confirm" if auto else None,
        "decided_by": "policy" if auto else None,
        "decision_reason": "automatic by policy" if auto else None,
        "decided_round": round_ if auto else None,
        "interventions_json": json.dumps(list(applied)) if applied is not None else None,
    }
