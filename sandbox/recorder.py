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

from sqlalchemy.exc import SQLAlchemyError

from agents.base import Agent
from protocols.policy import IncentivePolicy
from sandbox.ledger import Ledger
from sandbox.market import Member
from sandbox.record import (
    ACTION_COLUMNS,
    LEDGER_COLUMNS,
    RoundLog,
    action_tuples,
    actions_digest,
    ledger_tuples,
    transaction_rows,
)
from sandbox.scenario import Scenario
from traces.llm_calls import journal_call
from traces.redact import redact, register, url_secrets
from traces.store import RoundBatch, Store, StoreError, retrying, shown_url

SECRET_NAME = re.compile(
    r"(api_?key|token$|secret|password|credential|authorization|headers?$|cookie)", re.IGNORECASE
)  # token$: not max_tokens, token_budget; headers: extra_headers carry Authorization


def without_secrets(value: Any) -> Any:
    """A copy of ``value`` with every mapping entry whose name looks secret left out.

    Keys and tokens given as agent parameters must not land in the record; a fork that
    goes live reads them again from the environment, as litellm does.
    """
    if isinstance(value, dict):
        return {k: without_secrets(v) for k, v in value.items() if not SECRET_NAME.search(str(k))}
    if isinstance(value, list):
        return [without_secrets(v) for v in value]
    if isinstance(value, str) and url_secrets(value):  # http://user:key@host/?api-key=...: the URL without them
        return redact(value, url_secrets(value))
    return value


class Recorder:
    """The session's writer to the store (or to nowhere, when ``store`` is None)."""

    def __init__(self, store: Store | None, run_id: str, store_wait: float = 60.0) -> None:
        self.store = store
        self.run_id = run_id
        self.store_wait = store_wait  # seconds a write keeps trying while the store is away
        self._policy_version = 0
        self._policy_rows: list[dict[str, Any]] = []
        self._unsaved: tuple[int, RoundBatch, dict[str, Any]] | None = None  # built, not yet written
        self.journaled = 0  # paid model calls written as they returned
        self.journal_failed = 0  # ... and those the store was away for (their round's commit still has them)
        self._journal_off = False  # after a failed journal write, until the next round commits

    def journal(self, rec: Any) -> None:
        """Write one paid model call now, before its round commits, so a killed run keeps it.

        Best effort: the round's commit writes every call anyway, so while the store is away the
        journal is skipped (no call waits for it) until a round commits again.
        """
        if self.store is None or self._journal_off:
            return
        try:
            journal_call(self.store, self.run_id, rec.turn_round, rec.row())
            self.journaled += 1
        except (StoreError, SQLAlchemyError):
            self.journal_failed += 1
            self._journal_off = True

    def _write(self, op: Any, what: str, done: Any = None) -> None:
        assert self.store is not None
        then = (
            f"; the run stopped after its last committed round: call run() again on this session when the store "
            f"is back, or run `agora resume {self.run_id}` against it"
        )
        retrying(op, wait=self.store_wait, what=what, where=shown_url(self.store.url), done=done, then=then)

    def begin(self, scenario: Scenario, agents: Mapping[str, Agent], members: Mapping[str, Member], now: float) -> None:
        """Write the run row and the agents in one transaction; queue the first policy version."""
        if self._policy_version == 0:  # begin is called again when the store was away the first time
            self.policy_change(1, scenario.policy, "scenario", "initial policy")
        for agent in agents.values():  # every key, header and URL credential is redacted by value from now on
            register(agent.params, getattr(getattr(agent, "settings", None), "params", None))
            journal_calls = getattr(agent, "journal_calls", None)
            if journal_calls is not None:  # LLM agents: each paid call is written as it returns
                journal_calls(self.journal)
        register([spec.params for spec in scenario.population])
        if self.store is None:
            return
        batch = RoundBatch()
        batch.add(
            "runs",
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
            },
        )
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
        store = self.store
        self._write(lambda: store.commit_round(self.run_id, batch, {}), "the run's first row")

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
        """Write everything the round produced in one transaction, trying again while the store is away.

        The ledger's postings leave its pending list only once written, so a round that could not
        be written is still whole in memory; ``write_unsaved`` writes it later (``StoreUnavailable``
        is raised meanwhile).
        """
        if self.store is None:
            ledger.drain()
            self._policy_rows.clear()
            return
        batch = log.batch
        batch.extend_tuples("actions", ACTION_COLUMNS, action_tuples(self.run_id, log))
        batch.extend("transactions", transaction_rows(self.run_id, log.deals))
        batch.extend_tuples("ledger_entries", LEDGER_COLUMNS, ledger_tuples(self.run_id, ledger.pending))
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
        self._unsaved = (log.round, batch, {"rounds_done": log.round})
        self.write_unsaved()
        ledger.drain()  # nothing posts between building the batch and here

    @property
    def unsaved_round(self) -> int | None:
        """The round built but not yet written (the store was away), if any."""
        return None if self._unsaved is None else self._unsaved[0]

    def write_unsaved(self) -> None:
        """Write the round kept after a store outage (no-op when there is none)."""
        if self._unsaved is None or self.store is None:
            return
        round_, batch, update = self._unsaved
        store = self.store
        self._write(
            lambda: store.commit_round(self.run_id, batch, update),
            f"round {round_}",
            done=lambda: store.rounds_done(self.run_id) >= round_,  # committed, but the answer was lost
        )
        self._unsaved = None
        self._journal_off = False

    def finish(self, status: str, summary: Mapping[str, Any], error: str | None = None) -> None:
        """Mark the run finished (or failed), with its summary."""
        if self.store is None:
            return
        store = self.store
        self._write(
            lambda: store.update_run(
                self.run_id, status=status, finished_at=time.time(), summary_json=dict(summary), error=error
            ),
            f"the run's status ({status})",
        )
