"""Recording and replaying marketic runs in the store, like any other run.

A run writes a ``runs`` row (scenario ``marketic/<task>/<rule>``, the config as
``config_json``), one ``agents`` row per primitive, and per episode (a round of the record)
one ``rounds`` row with the metrics (``surplus``: the rewards earned; ``efficiency``: the
episode's discounted return over the optimal one), the ledger hash and the hash of every bid; the
episode's ``ledger_entries``; and one ``actions`` row per sealed bid, so the UI's auditing
views show who bid what for which state and who won. ``replay`` re-runs a recorded run from
its ``config_json`` and compares the hashes episode by episode.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from typing import Any

from sandbox.marketic.run import EpisodeLog, MarketicConfig, MarketicResult, Society, summary, to_json
from sandbox.marketic.tracing import MarketicTracer
from sandbox.record import ledger_rows
from traces import read
from traces.otel import Tracing, setup_tracing
from traces.store import RoundBatch, Store

Progress = Callable[[int, int], None]


def bid_rows(run_id: str, society: Society, log: EpisodeLog) -> list[dict[str, Any]]:
    """One ``actions`` row per sealed bid of the episode, in auction order."""
    rows, seq = [], 0
    label = society.task.label
    for step in log.steps:
        for b in step.result.ranking:
            seq += 1
            won = b.bidder == step.winner
            reason = (
                f"won {label(step.state)} at step {step.t} and paid {step.price} micro-units"
                if won
                else f"outbid for {label(step.state)} at step {step.t}"
            )
            rows.append(
                {
                    "run_id": run_id,
                    "round": log.episode,
                    "seq": seq,
                    "agent_id": b.bidder,
                    "action_type": "bid",
                    "thread_id": None,
                    "payload": json.dumps({"step": step.t, "state": label(step.state), "bid": b.amount}),
                    "accepted": True,
                    "rule": "marketic.won" if won else "marketic.outbid",
                    "reason": reason,
                    "span_id": None,
                }
            )
    return rows


class MarketicRecorder:
    """Writes a marketic run to a store (or nowhere, when ``store`` is None)."""

    def __init__(self, store: Store | None, run_id: str) -> None:
        self.store = store
        self.run_id = run_id

    def begin(self, society: Society) -> None:
        """The run row, the primitives and their endowments (round 0)."""
        entries = society.ledger.drain()
        if self.store is None:
            return
        cfg = society.config
        self.store.create_run(
            {
                "id": self.run_id,
                "scenario": cfg.scenario,
                "seed": cfg.seed,
                "status": "running",
                "rounds_planned": cfg.episodes,
                "rounds_done": 0,
                "n_agents": len(society.primitives),
                "config_json": cfg.model_dump_json(),
                "started_at": time.time(),
            }
        )
        batch = RoundBatch()
        batch.extend(
            "agents",
            (
                {
                    "run_id": self.run_id,
                    "agent_id": p.pid,
                    "role": "primitive",
                    "kind": f"marketic/{p.action}",
                    "params_json": json.dumps({"action": p.action, "clone": p.clone, "shared": cfg.shared}),
                    "private_json": "{}",
                    "endowment": society.ledger.balance(f"agent:{p.pid}"),
                }
                for p in society.primitives
            ),
        )
        batch.extend("ledger_entries", ledger_rows(self.run_id, entries))
        self.store.commit_round(self.run_id, batch, {})

    def episode(self, society: Society, log: EpisodeLog, metrics: dict[str, Any], tracer: MarketicTracer) -> None:
        """One episode's rows (and its spans) in one transaction."""
        entries = society.ledger.drain()
        batch = RoundBatch()
        tracer.stage(batch)
        if self.store is None:
            tracer.confirm()
            return
        batch.extend("actions", bid_rows(self.run_id, society, log))
        batch.extend("ledger_entries", ledger_rows(self.run_id, entries))
        n_bids = sum(len(s.result.ranking) for s in log.steps)
        batch.add(
            "rounds",
            {
                "run_id": self.run_id,
                "round": log.episode,
                "n_actions": n_bids,
                "n_accepted": n_bids,
                "n_rejected": 0,
                "n_tx": len(log.steps),
                "volume": sum(s.price for s in log.steps),
                "surplus": round(sum(s.reward for s in log.steps) * 1_000_000),
                # realised (discounted, exploring) return over the optimum: the share of the best
                # achievable value the episode delivered, as allocative efficiency is for a market
                "efficiency": metrics["return"] / metrics["optimal_return"] if metrics["optimal_return"] else None,
                "mean_price": metrics["mean_price"],
                "metrics_json": to_json(metrics),
                "ledger_hash": society.ledger.digest(),
                "actions_hash": log.digest(),
            },
        )
        self.store.commit_round(self.run_id, batch, {"rounds_done": log.episode})
        tracer.confirm()

    def finish(self, status: str, summary_: dict[str, Any], error: str | None = None) -> None:
        """Mark the run finished (or failed) with its summary."""
        if self.store is not None:
            self.store.update_run(
                self.run_id, status=status, finished_at=time.time(), summary_json=summary_, error=error
            )


def run_marketic(
    config: MarketicConfig,
    store: Store | None = None,
    run_id: str | None = None,
    progress: Progress | None = None,
    tracing: bool | Tracing | None = None,
) -> MarketicResult:
    """Run a marketic society for ``config.episodes`` episodes, recording to ``store`` if given.

    ``tracing``: None traces when there is a store, True always (to the store and any OTLP
    endpoint in the environment), False never, or a ``Tracing`` set up by the caller.
    """
    run_id = run_id or f"marketic-{config.task}-{config.rule}-{uuid.uuid4().hex[:8]}"
    society = Society(config)
    recorder = MarketicRecorder(store, run_id)
    if tracing is None:
        tracing = store is not None
    if tracing is True:
        tracing = setup_tracing(store)
    tracer = MarketicTracer(tracing or None, run_id, config, society.task.label)
    recorder.begin(society)
    tracer.start()
    history: list[dict[str, Any]] = []
    try:
        for _ in range(config.episodes):
            with tracer.episode(society.episode + 1):
                log, metrics = society.play_episode(on_step=tracer.step)
            recorder.episode(society, log, metrics, tracer)
            history.append(metrics)
            if progress is not None:
                progress(society.episode, config.episodes)
    except Exception as err:
        tracer.end(err)
        recorder.finish("failed", {"episodes": society.episode}, error=f"{type(err).__name__}: {err}")
        raise
    finally:
        if society.llm is not None:
            society.llm.close()
    tracer.end()
    result = MarketicResult(run_id if store is not None else None, config, history, society)
    recorder.finish("finished", summary(result))
    return result


def replay(store: Store, run_id: str) -> list[str]:
    """Re-run a recorded marketic run from its config; return the differences (empty: exact)."""
    row = read.run(store, run_id)
    if row is None:
        raise ValueError(f"no run {run_id!r} in the store; check the run id and the --db path")
    if not row.scenario.startswith("marketic/"):
        raise ValueError(f"run {run_id!r} is a {row.scenario} run, not a marketic one")
    config = MarketicConfig.model_validate_json(row.config_json)
    recorded = {r.round: r for r in read.rounds(store, run_id)}
    society = Society(config)
    society.ledger.drain()
    diffs = []
    try:
        for episode in sorted(recorded):
            while society.episode < episode:
                log, _ = society.play_episode()
            rec = recorded[episode]
            if rec.ledger_hash != society.ledger.digest():
                diffs.append(f"episode {episode}: ledger hash differs")
            if rec.actions_hash != log.digest():
                diffs.append(f"episode {episode}: bids differ")
    finally:
        if society.llm is not None:
            society.llm.close()
    return diffs
