"""Round-by-round checks of a re-executed run against its record.

``RecordChecker`` loads a run's record once and compares what a replayed round produced
(its actions, ledger postings, transactions, policy versions, metrics and the two hashes)
with what the record holds, naming the first record that differs. ``CheckingRecorder``
is the session's recorder during a replay: it checks each round before (optionally)
writing it, so a fork or a resume never writes a round that does not match its source.
"""

from __future__ import annotations

import bisect
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sandbox.ledger import Ledger
from sandbox.record import RoundLog, action_rows, actions_digest, ledger_rows, transaction_rows
from sandbox.recorder import Recorder
from traces import history
from traces.store import Store


@dataclass(frozen=True)
class Divergence:
    """The first place where a replay and its record disagree."""

    round: int
    what: str  # action, ledger entry, transaction, ledger hash, actions hash, metrics, policy, command, llm call
    key: str  # which record: "seq 4", "tx 12", ...
    recorded: str
    replayed: str

    def __str__(self) -> str:
        return f"round {self.round}, {self.what} {self.key}: the record has {self.recorded} but the replay gives {self.replayed}"


class ReplayDiverged(RuntimeError):
    """A re-executed round does not match the record."""

    def __init__(self, divergence: Divergence) -> None:
        super().__init__(str(divergence))
        self.divergence = divergence


def _strip(row: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k not in history.VOLATILE and k != "run_id"}


def _show(row: Mapping[str, Any] | None) -> str:
    return "nothing" if row is None else json.dumps(row, sort_keys=True, default=str)[:600]


def first_difference(
    what: str, round_: int, key: str, recorded: Sequence[Mapping[str, Any]], replayed: Sequence[Mapping[str, Any]]
) -> Divergence | None:
    """Compare two row lists in order; the first row (or the count) that differs."""
    for a, b in zip(recorded, replayed, strict=False):
        a, b = _strip(a), _strip(b)
        if a != b:
            fields = sorted(k for k in a.keys() | b.keys() if a.get(k) != b.get(k))
            return Divergence(round_, what, f"{key} {a.get(key, b.get(key))} ({', '.join(fields)})", _show(a), _show(b))
    if len(recorded) != len(replayed):
        n = min(len(recorded), len(replayed))
        extra_a = _strip(recorded[n]) if len(recorded) > n else None
        extra_b = _strip(replayed[n]) if len(replayed) > n else None
        return Divergence(
            round_, what, f"count ({len(recorded)} recorded, {len(replayed)} replayed)", _show(extra_a), _show(extra_b)
        )
    return None


LLM_FIELDS = (
    "agent_id",
    "seq",
    "attempt",
    "event",
    "model",
    "request_hash",
    "fault",
    "prompt_tokens",
    "completion_tokens",
)


def _llm(row: Any) -> dict[str, Any]:
    """The fields of an LLM call record that a replay must reproduce (not latency, text or cost)."""
    m = row if isinstance(row, Mapping) else row._mapping
    return {k: m.get(k) for k in LLM_FIELDS}


def _llms(rows: Sequence[Any]) -> list[dict[str, Any]]:
    return sorted((_llm(r) for r in rows), key=lambda r: (r["agent_id"], r["seq"]))


class RecordChecker:
    """A run's record, loaded once, and the comparison of replayed rounds against it."""

    def __init__(self, store: Store, run_id: str) -> None:
        self.run_id = run_id
        self.rounds = history.rounds_of(store, run_id)
        self.actions = history.actions_by_round(store, run_id)
        # Postings are matched by sequence number, not by their round: a round's commit writes
        # every posting since the last one (round 1's includes the endowments of round 0).
        self.ledger = sorted(
            (row for rows in history.ledger_by_round(store, run_id).values() for row in rows), key=lambda e: e.seq
        )
        self._seqs = [e.seq for e in self.ledger]
        self._last_seq: dict[int, int] = {}  # round -> highest sequence number posted up to that round
        top = 0
        for e in sorted(self.ledger, key=lambda e: (e.round, e.seq)):
            top = max(top, e.seq)
            self._last_seq[e.round] = top
        self._next_seq = 1
        self.transactions = history.transactions_by_round(store, run_id)
        self.policies = history.policy_versions(store, run_id)
        self.commands = history.applied_commands(store, run_id)
        self.llm_calls = history.llm_calls_by_round(store, run_id)

    def _postings(self, round_: int, ledger: Ledger) -> list[Any]:
        """Recorded postings the commit of ``round_`` should hold: those after the previous
        commit, up to the replay's last one or the round's last recorded one, whichever is later."""
        last = max(ledger.pending[-1].seq if ledger.pending else 0, self._last_seq.get(round_, 0))
        first = self._next_seq
        self._next_seq = max(first, last + 1)
        lo, hi = bisect.bisect_left(self._seqs, first), bisect.bisect_right(self._seqs, last)
        return self.ledger[lo:hi]

    def policies_from(self, round_: int) -> list[Any]:
        """Policy versions after the first that took effect in ``round_``."""
        return [p for p in self.policies if p.round == round_ and p.version > 1]

    def commands_in(self, round_: int) -> list[Any]:
        """Commands that took effect in ``round_`` (their policy effect is in the versions)."""
        return [c for c in self.commands if c.applied_round == round_]

    def check(
        self, log: RoundLog, metrics: Mapping[str, Any], ledger: Ledger, policy_rows: Sequence[Mapping[str, Any]]
    ) -> Divergence | None:
        """Compare one replayed round (before the recorder drains it) with the record."""
        r = log.round
        rec = self.rounds.get(r)
        if rec is None:
            return Divergence(r, "round", "row", "no such round", "a round")
        rows = lambda xs: [dict(x._mapping) for x in xs]  # noqa: E731
        checks = (
            ("action", "seq", rows(self.actions.get(r, [])), action_rows(self.run_id, log)),
            ("ledger entry", "seq", rows(self._postings(r, ledger)), ledger_rows(self.run_id, ledger.pending)),
            (
                "transaction",
                "tx_id",
                rows(self.transactions.get(r, [])),
                sorted(transaction_rows(self.run_id, log.deals), key=lambda t: t["tx_id"]),
            ),
            ("policy version", "version", rows(p for p in self.policies if p.round == r), list(policy_rows)),
            ("llm call record", "seq", _llms(self.llm_calls.get(r, [])), _llms(log.batch.rows.get("llm_calls", []))),
        )
        for what, key, recorded, replayed in checks:
            found = first_difference(what, r, key, recorded, replayed)
            if found:
                return found
        digest = actions_digest(log)
        if digest != rec.actions_hash:
            return Divergence(r, "actions hash", "of the round", rec.actions_hash, digest)
        if ledger.digest() != rec.ledger_hash:
            return Divergence(r, "ledger hash", "of the round", rec.ledger_hash, ledger.digest())
        replayed_metrics = json.dumps(metrics, sort_keys=True, default=str)
        if replayed_metrics != rec.metrics_json:
            a, b = json.loads(rec.metrics_json), json.loads(replayed_metrics)
            diff = sorted(k for k in a.keys() | b.keys() if a.get(k) != b.get(k))
            return Divergence(
                r, "metrics", ", ".join(diff), _show({k: a.get(k) for k in diff}), _show({k: b.get(k) for k in diff})
            )
        return None


class CheckingRecorder(Recorder):
    """A recorder that checks each round against a source record while ``checking`` is on.

    With ``store`` None nothing is written (a pure replay); with a store the round is
    written only after it matched (fork, resume).
    """

    def __init__(self, store: Store | None, run_id: str, checker: RecordChecker) -> None:
        super().__init__(store, run_id)
        self.checker = checker
        self.checking = True
        self.divergence: Divergence | None = None
        self.checked = 0

    def commit(self, log: RoundLog, metrics: Mapping[str, Any], ledger: Ledger) -> None:
        """Check the round against the record, then write it as a normal recorder would."""
        if self.checking:
            found = self.divergence or self.checker.check(log, metrics, ledger, self._policy_rows)
            if found is not None:
                self.divergence = found
                raise ReplayDiverged(found)
            self.checked = log.round
        super().commit(log, metrics, ledger)
