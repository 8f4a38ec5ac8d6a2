"""Exact replay, fork and resume of a logged run.

A run is rebuilt from its record alone: the scenario (``runs.config_json``) gives the
population and the seed, and every random draw in a round derives from (seed, agent,
round), so re-executing the rounds reproduces them without saved generator state. The
policy timeline (policy versions) and the control commands are applied at the rounds the
record says, and each round is checked against the record before anything is written.

- ``replay(run_id)`` re-executes a run and reports "identical" or the first divergence;
- ``fork(run_id, k, policy)`` replays rounds 1..k into a new run, then goes on with ``policy``;
- ``resume(run_id)`` re-executes the committed rounds of a killed run, then continues it.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from protocols.policy import IncentivePolicy
from sandbox.loop import run_sync
from sandbox.record import RoundLog
from sandbox.replay.llm import (
    JournalAnswers,
    RecordedModel,
    llm_agents,
    recorded_caps,
    route_agents,
    stand_in_agents,
)
from sandbox.replay.verify import CheckingRecorder, Divergence, RecordChecker, ReplayDiverged
from sandbox.scenario import Scenario
from sandbox.session import RunResult, Session
from sandbox.tracing import session_tracer
from traces import history, read
from traces.llm_calls import journal
from traces.llm_calls import llm_calls as recorded_calls
from traces.store import Store

Progress = Callable[[int, int], None]


class ReplayError(ValueError):
    """A replay, fork or resume cannot start; the message says what to change."""


@dataclass
class ReplayReport:
    """The outcome of a replay: identical, or the first round and record that diverged."""

    run_id: str
    rounds_recorded: int
    rounds_checked: int
    divergence: Divergence | None
    seconds: float
    llm_calls_served: int = 0

    @property
    def identical(self) -> bool:
        """True when every recorded round was re-executed and matched."""
        return self.divergence is None and self.rounds_checked == self.rounds_recorded

    def __str__(self) -> str:
        if self.identical:
            return f"identical: {self.rounds_checked} rounds of {self.run_id} re-executed and matched"
        if self.divergence is None:
            return f"incomplete: {self.rounds_checked} of {self.rounds_recorded} rounds checked"
        return f"diverged at {self.divergence}"


def _store(store: Store | str | None) -> Store:
    return store if isinstance(store, Store) else Store(store)


def _run_row(store: Store, run_id: str) -> Any:
    row = read.run(store, run_id)
    if row is None:
        raise ReplayError(f"no run '{run_id}' in {store.url}; check the run id and the --db option")
    return row


class Replayer:
    """A session rebuilt from a run's record, checking each round it re-executes.

    ``write_to`` and ``run_id`` choose where the re-executed rounds go: nowhere (replay),
    a new run (fork) or the same run (resume). Recorded policy versions and commands are
    applied until ``until``; after it the session is on its own.
    """

    def __init__(
        self, store: Store, run_id: str, *, write_to: Store | None = None, new_run_id: str | None = None
    ) -> None:
        self.store = store
        self.source = _run_row(store, run_id)
        if self.source.scenario.startswith("marketic/"):
            raise ReplayError(f"run '{run_id}' is a marketic run; check it with: agora marketic-replay {run_id}")
        try:
            scenario = Scenario.model_validate_json(self.source.config_json)
        except ValueError as err:
            raise ReplayError(f"run '{run_id}' has a scenario this version cannot rebuild: {err}") from None
        self.checker = RecordChecker(store, run_id)
        self.until = self.source.rounds_done
        # A session given the store traces into it (a fork's rounds); a replay writes and exports nothing.
        self.session = Session(
            scenario, run_id=new_run_id or run_id, store=write_to, tracing=None if write_to else False
        )
        self.recorder = CheckingRecorder(write_to, self.session.run_id, self.checker)
        self.session.recorder = self.recorder
        # Last of the round-start hooks, so commands apply where the session's own control step would.
        self.session.hooks.round_start.append(self._timeline)
        self.session.hooks.round_end.append(self._model_check)
        self.model: RecordedModel | None = None
        self.paid: JournalAnswers | None = None  # a resume's journal of the round in progress
        if llm_agents(self.session.agents):
            self.model = RecordedModel(recorded_calls(store, run_id), lambda: self.session.round)
            recorded_caps(self.session.agents, self.model.rows)  # a run recorded before the default cap
            route_agents(self.session.agents, self.model)

    def _model_check(self, session: Session, log: RoundLog) -> None:
        if self.model is not None and self.model.divergence is not None and self.recorder.divergence is None:
            self.recorder.divergence = self.model.divergence

    def _timeline(self, session: Session, log: RoundLog) -> None:
        """Apply the recorded commands and policy versions of this round, as the run did."""
        if log.round > self.until:
            return
        for cmd in self.checker.commands_in(log.round):
            if cmd.kind == "set_policy":  # its effect is the policy version applied below
                continue
            outcome = session.run_command(cmd.kind, cmd.payload_json, cmd.author, cmd.reason)
            if outcome != cmd.outcome and self.recorder.divergence is None:
                self.recorder.divergence = Divergence(
                    log.round, "command", f"id {cmd.id} ({cmd.kind})", repr(cmd.outcome), repr(outcome)
                )
        for version in self.checker.policies_from(log.round):
            policy = IncentivePolicy.model_validate_json(version.policy_json)
            session.set_policy(policy, version.author, version.reason)

    async def replay_to(self, k: int, progress: Progress | None = None) -> Divergence | None:
        """Re-execute rounds up to ``k`` (checking each); the first divergence, if any."""
        if not 0 <= k <= self.source.rounds_done:
            raise ReplayError(
                f"round {k} is outside run '{self.source.id}', which has rounds 0 to {self.source.rounds_done}"
            )
        self.until = k
        while self.session.round < k:
            try:
                await self.session.astep()
            except ReplayDiverged as err:
                return err.divergence
            if progress:
                progress(self.session.round, k)
        return None

    def release(self, llm: str = "live") -> None:
        """Stop checking and applying the record: later rounds are the session's own.

        ``llm`` says who answers LLM agents from now on: ``live`` (their configured models)
        or ``stand-in`` (the offline scripted stand-in).
        """
        self.recorder.checking = False
        self.until = min(self.until, self.session.round)
        if self.model is not None:
            self.model.uninstall()
            if llm == "stand-in":
                stand_in_agents(self.session.agents)
            else:
                route_agents(self.session.agents, None)

    def close(self) -> None:
        """Unregister the record's model provider."""
        if self.model is not None:
            self.model.uninstall()

    @property
    def served(self) -> int:
        """LLM calls answered from the record so far."""
        return self.model.served if self.model is not None else 0


def replay(run_id: str, store: Store | str | None = None, progress: Progress | None = None) -> ReplayReport:
    """Re-execute a logged run from its record and compare it round by round.

    Writes nothing and calls no model: LLM calls are answered from the record. Works inside
    a running event loop too (see ``sandbox.loop``); in async code use ``areplay``.
    """
    return run_sync(areplay(run_id, store, progress))


async def areplay(run_id: str, store: Store | str | None = None, progress: Progress | None = None) -> ReplayReport:
    """Async form of ``replay``."""
    db = _store(store)
    t0 = time.perf_counter()
    rp = Replayer(db, run_id)
    try:
        divergence = await rp.replay_to(rp.source.rounds_done, progress)
    finally:
        rp.close()
    return ReplayReport(
        run_id, rp.source.rounds_done, rp.recorder.checked, divergence, time.perf_counter() - t0, rp.served
    )


def load_policy(path: str | Path, base: IncentivePolicy) -> IncentivePolicy:
    """A policy file (YAML or JSON mapping of policy fields) merged over ``base``."""
    try:
        data = yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError) as err:
        raise ReplayError(f"{path}: cannot read the policy file ({err})") from None
    if isinstance(data, dict) and isinstance(data.get("policy"), dict):
        data = data["policy"]
    if not isinstance(data, dict):
        raise ReplayError(f"{path}: a policy file is a mapping of policy fields such as fee_rate: 0.05")
    try:
        return base.with_changes(data)
    except ValueError as err:
        raise ReplayError(f"{path}: {err}") from None


def _policy_at(store: Store, run: Any, round_: int) -> IncentivePolicy:
    """The policy in force after ``round_`` of a run, from its policy timeline."""
    versions = [v for v in history.policy_versions(store, run.id) if v.round <= max(round_, 1)]
    if versions:
        return IncentivePolicy.model_validate_json(versions[-1].policy_json)
    return Scenario.model_validate_json(run.config_json).policy


def _fork_policy(
    policy: IncentivePolicy | Mapping[str, Any] | str | Path | None, base: IncentivePolicy
) -> IncentivePolicy | None:
    """The fork's policy: a policy, changes merged over ``base``, or a policy file."""
    if policy is None or isinstance(policy, IncentivePolicy):
        return policy
    if isinstance(policy, (str, Path)):
        return load_policy(policy, base)
    try:
        return base.with_changes(dict(policy))
    except ValueError as err:
        raise ReplayError(f"the fork's policy is not valid: {err}") from None


@dataclass
class ForkResult:
    """A fork: the new run's result, its parent and the round it branched after."""

    result: RunResult
    parent_run_id: str
    fork_round: int

    @property
    def run_id(self) -> str:
        """The new run's id."""
        return self.result.run_id


def fork(
    run_id: str,
    round_: int,
    policy: IncentivePolicy | Mapping[str, Any] | str | Path | None = None,
    *,
    store: Store | str | None = None,
    live: bool = False,
    new_run_id: str | None = None,
    progress: Progress | None = None,
) -> ForkResult:
    """Replay rounds 1..``round_`` of a run into a new run, then continue it with ``policy``.

    The new run records its parent and fork round; rounds up to the fork are checked
    against the parent's record as they are written. Works inside a running event loop
    too; in async code use ``afork``.
    """
    return run_sync(afork(run_id, round_, policy, store=store, live=live, new_run_id=new_run_id, progress=progress))


async def afork(
    run_id: str,
    round_: int,
    policy: IncentivePolicy | Mapping[str, Any] | str | Path | None = None,
    *,
    store: Store | str | None = None,
    live: bool = False,
    new_run_id: str | None = None,
    progress: Progress | None = None,
) -> ForkResult:
    """Async form of ``fork``."""
    db = _store(store)
    parent = _run_row(db, run_id)
    if not 0 <= round_ <= parent.rounds_done:
        raise ReplayError(f"round {round_} is outside run '{run_id}', which has rounds 0 to {parent.rounds_done}")
    new_policy = _fork_policy(policy, _policy_at(db, parent, round_))  # a bad policy fails before anything is written
    new_id = new_run_id or f"{run_id}-fork{round_}-{uuid.uuid4().hex[:6]}"
    rp = Replayer(db, run_id, write_to=db, new_run_id=new_id)
    rp.until = round_

    async def go() -> RunResult:
        diverged = await rp.replay_to(round_, progress)
        if diverged is not None:
            db.update_run(new_id, status="failed", error=f"the parent's record did not replay: {diverged}")
            raise ReplayError(f"cannot fork: the parent run does not replay identically ({diverged})")
        rp.release("live" if live else "stand-in")
        s = rp.session
        s._begin()  # noqa: SLF001  (a fork at round 0 has not begun yet)
        db.update_run(new_id, parent_run_id=run_id, fork_round=round_)
        history.copy_commands(db, run_id, new_id, round_)
        if new_policy is not None:
            s.set_policy(new_policy, "fork", f"fork of {run_id} after round {round_}")
        return await s.arun(progress=progress)

    try:
        return ForkResult(await go(), run_id, round_)
    finally:
        rp.close()


def resume(run_id: str, store: Store | str | None = None, progress: Progress | None = None) -> RunResult:
    """Continue a run that stopped (killed, crashed, paused) from its last committed round.

    The committed rounds are re-executed without writing and checked against the record,
    then the run goes on writing from the next round; nothing is lost or written twice.
    Works inside a running event loop too; in async code use ``aresume``.
    """
    return run_sync(aresume(run_id, store, progress))


async def aresume(run_id: str, store: Store | str | None = None, progress: Progress | None = None) -> RunResult:
    """Async form of ``resume``."""
    db = _store(store)
    row = _run_row(db, run_id)
    if row.status == "finished" and row.rounds_done >= row.rounds_planned:
        raise ReplayError(f"run '{run_id}' finished all {row.rounds_done} rounds; there is nothing to resume")
    history.reopen_commands(db, run_id, row.rounds_done)
    rp = Replayer(db, run_id)

    async def go() -> RunResult:
        diverged = await rp.replay_to(row.rounds_done, progress)
        if diverged is not None:
            raise ReplayError(f"cannot resume: the committed rounds do not replay identically ({diverged})")
        rp.release("live")
        paid = JournalAnswers(journal(db, run_id, row.rounds_done))
        if len(paid):  # calls the killed segment paid for in its round in progress: answered, not paid again
            route_agents(rp.session.agents, paid)
        rp.paid = paid
        s = rp.session
        s._begin()  # noqa: SLF001  (resuming at round 0 must not write the run row twice)
        rp.recorder.store = db
        history.rebase_span_counts(db, run_id)  # spans a killed segment committed with its rounds
        s.tracer = session_tracer(s, None)  # traced from here on, as a new segment of the run's spans
        db.update_run(run_id, status="running", error=None, finished_at=None)
        return await s.arun(progress=progress)

    try:
        return await go()
    finally:
        rp.close()
