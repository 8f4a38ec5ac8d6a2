"""Writes a session's record: the run and agent rows, then one batch per round.

With no store the recorder still drains the ledger's pending postings, so an unrecorded
run (benchmarks, quick experiments) costs nothing extra.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping
from typing import Any

from agents.base import Agent
from protocols.policy import IncentivePolicy
from sandbox.ledger import Ledger
from sandbox.market import Member
from sandbox.record import RoundLog, action_rows, actions_digest, ledger_rows, transaction_rows
from sandbox.scenario import Scenario
from traces.store import RoundBatch, Store

SECRET_NAME = re.compile(
    r"(api_?key|token$|secret|password|credential)", re.IGNORECASE
)  # token$: not max_tokens, token_budget


def without_secrets(value: Any) -> Any:
    """A copy of ``value`` with every mapping entry whose name looks secret left out.

    Keys and tokens given as agent parameters must not land in the record; a fork that
    goes live reads them again from the environment, as litellm does.
    """
    if isinstance(value, dict):
        return {k: without_secrets(v) for k, v in value.items() if not SECRET_NAME.search(str(k))}
    if isinstance(value, list):
        return [without_secrets(v) for v in value]
    return value


class Recorder:
    """The session's writer to the store (or to nowhere, when ``store`` is None)."""

    def __init__(self, store: Store | None, run_id: str) -> None:
        self.store = store
        self.run_id = run_id
        self._policy_version = 0
        self._policy_rows: list[dict[str, Any]] = []

    def begin(self, scenario: Scenario, agents: Mapping[str, Agent], members: Mapping[str, Member], now: float) -> None:
        """Write the run row, the agents and the first policy version."""
        self.policy_change(1, scenario.policy, "scenario", "initial policy")
        if self.store is None:
            return
        self.store.create_run(
            {
                "id": self.run_id,
                "scenario": scenario.name,
                "seed": scenario.seed,
                "status": "running",
                "rounds_planned": scenario.rounds,
                "rounds_done": 0,
                "n_agents": len(agents),
                "config_json": json.dumps(without_secrets(scenario.model_dump(mode="json"))),
                "started_at": now,
            }
        )
        batch = RoundBatch()
        batch.extend(
            "agents",
            (
                {
                    "run_id": self.run_id,
                    "agent_id": aid,
                    "role": m.role,
                    "kind": m.kind,
                    "params_json": json.dumps(without_secrets(agents[aid].describe()), sort_keys=True, default=str),
                    "private_json": m.private.model_dump_json(),
                    "endowment": m.endowment,
                }
                for aid, m in members.items()
            ),
        )
        self.store.commit_round(self.run_id, batch, {})

    def policy_change(self, round_: int, policy: IncentivePolicy, author: str, reason: str) -> None:
        """Queue a policy version row; it is written with the round's batch."""
        self._policy_version += 1
        self._policy_rows.append(
            {
                "run_id": self.run_id,
                "version": self._policy_version,
                "round": round_,
                "author": author,
                "reason": reason,
                "policy_json": policy.model_dump_json(),
            }
        )

    def commit(self, log: RoundLog, metrics: Mapping[str, Any], ledger: Ledger) -> None:
        """Write everything the round produced in one transaction."""
        entries = ledger.drain()
        if self.store is None:
            self._policy_rows.clear()
            return
        batch = log.batch
        batch.extend("actions", action_rows(self.run_id, log))
        batch.extend("transactions", transaction_rows(self.run_id, log.deals))
        batch.extend("ledger_entries", ledger_rows(self.run_id, entries))
        batch.extend("policy_versions", self._policy_rows)
        self._policy_rows = []
        batch.add(
            "rounds",
            {
                "run_id": self.run_id,
                "round": log.round,
                "n_actions": metrics["actions"],
                "n_accepted": metrics["accepted"],
                "n_rejected": metrics["rejected"],
                "n_tx": metrics["transactions"],
                "volume": round(metrics["volume"] * 1e6),
                "surplus": round(metrics["surplus"] * 1e6),
                "efficiency": metrics["efficiency"],
                "mean_price": metrics["mean_price"],
                "metrics_json": json.dumps(metrics, sort_keys=True, default=str),
                "ledger_hash": ledger.digest(),
                "actions_hash": actions_digest(log),
            },
        )
        self.store.commit_round(self.run_id, batch, {"rounds_done": log.round})

    def finish(self, status: str, summary: Mapping[str, Any], error: str | None = None) -> None:
        """Mark the run finished (or failed), with its summary."""
        if self.store is None:
            return
        self.store.update_run(
            self.run_id, status=status, finished_at=time.time(), summary_json=dict(summary), error=error
        )
