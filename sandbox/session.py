"""``Session``: a market run, and its round loop.

One round, as docs/architecture.md tells it: apply control (policy changes), observe, decide
concurrently, apply the actions in a seeded order through the protocol, then settle,
fine, check the books, report metrics and commit the round's records in one transaction.
"""

from __future__ import annotations

import _random
import asyncio
import json
import random
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from hashlib import sha512
from typing import Any

from pydantic import ValidationError

from agents.base import Agent, DryRun
from agents.observation import ObservationLimits
from agents.registry import register, resolve
from protocols import settlement
from protocols.actions import ACTION_TYPES, ActionBase
from protocols.communication import apply_redactions
from protocols.money import to_micros
from protocols.policy import IncentivePolicy, policy_diff
from protocols.protocol import Protocol
from protocols.trusted import field_or_none
from protocols.verdict import Rule, Verdict
from sandbox import gcfreeze
from sandbox.ledger import Ledger
from sandbox.loop import run_sync
from sandbox.market import Deal, Market, Member
from sandbox.mechanisms import build_market
from sandbox.metrics import VIOLATION_RULES, RunTotals, report, update_totals
from sandbox.observe import Observer, ReceiptEntry
from sandbox.population import PopulationSpec, check_populations, draw_members
from sandbox.record import ActionRecord, DealRecord, LazyActionRecord, RoundLog
from sandbox.recorder import Recorder
from sandbox.safety import SafetyLayer
from sandbox.scenario import Scenario, explain, parse_scenario
from sandbox.tracing import session_tracer
from traces.control import mark_applied, pending_commands
from traces.otel import TraceStoreError, Tracing
from traces.store import Store, StoreError, StoreUnavailable, is_transient

_CRandom = _random.Random
_BUILT_IN_ACTIONS = frozenset(ACTION_TYPES)  # frozen models of plain values: their JSON may be made later

Hook = Callable[["Session", RoundLog], None]
ControlHandler = Callable[["Session", dict[str, Any], str, str], str]
"""Applies one control command (payload, author, reason); returns the outcome to record."""


@dataclass
class Hooks:
    """Extension points of the round loop (control plane, detectors, live views)."""

    round_start: list[Hook] = field(default_factory=list)
    round_end: list[Hook] = field(default_factory=list)  # after settlement, before the commit
    after_commit: list[Hook] = field(default_factory=list)


@dataclass
class RunResult:
    """What a finished run returns: its id, summary and per-round metrics."""

    run_id: str
    rounds: int
    summary: dict[str, Any]
    history: list[dict[str, Any]]

    def metrics(self) -> Any:
        """Per-round metrics as a pandas DataFrame indexed by round."""
        import pandas as pd

        return pd.DataFrame(self.history).set_index("round")


class Session:
    """A market run: agents, the market, the protocol, the policy and the record."""

    def __init__(
        self,
        scenario: Scenario | None = None,
        *,
        seed: int | None = None,
        rounds: int | None = None,
        store: Store | str | None = None,
        run_id: str | None = None,
        limits: ObservationLimits | None = None,
        tracing: bool | Tracing | None = None,
        store_wait: float = 60.0,
    ) -> None:
        self.scenario = (scenario or Scenario()).model_copy(deep=True)
        if seed is not None or rounds is not None:  # checked as a scenario file's would be (ScenarioError)
            changes = {"seed": seed, "rounds": rounds}
            self.scenario = parse_scenario(
                {**self.scenario.model_dump(), **{k: v for k, v in changes.items() if v is not None}}, "Session"
            )
        self.seed = self.scenario.seed
        self.protocol = Protocol(self.scenario.market.protocol_config())
        self.policy: IncentivePolicy = self.scenario.policy
        self.ledger = Ledger()
        self.market: Market = build_market(
            self.scenario.mechanism,
            self.ledger,
            self.protocol.config.deadlines,
            seed=self.seed,
            rounds=self.scenario.rounds,
            policy=self.policy,
        )
        self.limits = limits or ObservationLimits()
        self.agents: dict[str, Agent] = {}
        self.shared: dict[str, Any] = {}  # handed to every agent: what they share (LLM call pools and budget)
        self.round = 0
        self.run_id = run_id or f"{self.scenario.name}-{uuid.uuid4().hex[:10]}"
        self.hooks = Hooks()
        self.totals = RunTotals()
        self.history: list[dict[str, Any]] = []
        self.rejections: Counter[str] = Counter()
        # store_wait: seconds a round's commit keeps trying while the store is away (docs/reliability.md)
        self.recorder = Recorder(Store(store) if isinstance(store, str) else store, self.run_id, store_wait)
        self._unsaved: tuple[RoundLog, dict[str, Any]] | None = None  # a played round the store was away for
        # receipts for each agent's next observation: Receipts, or (round, ActionRecord) made into one when read
        self._receipts: dict[str, list[ReceiptEntry]] = defaultdict(list)
        self._pending_policy: list[tuple[IncentivePolicy, str, str]] = []
        self._role_counts: Counter[str] = Counter()
        self._tx_seq = 0
        self._begun = False
        self.control_handlers: dict[str, ControlHandler] = {"set_policy": _set_policy_command}
        self.safety = SafetyLayer.install(self, self.scenario.safety)  # checks, breakers, detectors, reviews
        self.tracer = session_tracer(self, tracing)  # None: traced when there is a store or an OTLP endpoint
        for position, spec in enumerate(self.scenario.population):
            self._add_population(spec, position)

    # --- populations --------------------------------------------------------------
    def spawn(self, agent: str | type[Agent], n: int, role: str, **kwargs: Any) -> list[str]:
        """Add ``n`` agents of a type; returns their ids. Unknown keywords become agent parameters.

        ``session.spawn(ZIC, n=20, role="buyer", budget=100, value=(20, 80), demand=2)``

        The bounds of a scenario file apply (docs/scenarios.md): at most 100,000 agents in all,
        demand or capacity up to 1,000,000, money up to 10^9, parameters the agent type knows;
        a mistake raises ``ScenarioError`` (a ``ValueError``) in one sentence.
        """
        if self._begun:
            raise RuntimeError("spawn agents before the run starts")
        cls = resolve(agent)
        if isinstance(agent, type):
            register(cls)
        fields = set(PopulationSpec.model_fields)
        params = {**kwargs.pop("params", {}), **{k: v for k, v in kwargs.items() if k not in fields}}
        known = {k: v for k, v in kwargs.items() if k in fields}
        try:
            spec = PopulationSpec(agent=cls.kind, n=n, role=role, params=params, **known)
        except ValidationError as err:
            raise explain("spawn", err) from None
        check_populations([*self.scenario.population, spec])
        self.scenario.population.append(spec)
        return self._add_population(spec, len(self.scenario.population) - 1)

    def _add_population(self, spec: PopulationSpec, position: int) -> list[str]:
        cls = resolve(spec.agent)
        ids = []
        for private, endowment in draw_members(spec, self.seed, position):
            aid = f"{spec.role}-{self._role_counts[spec.role]:03d}"
            self._role_counts[spec.role] += 1
            self.agents[aid] = cls(aid, spec.role, rng=random.Random(), **spec.params)
            self.agents[aid].scope = self.run_id
            self.agents[aid].shared = self.shared
            self.market.join(Member(aid, spec.role, cls.kind, private, endowment))
            ids.append(aid)
        return ids

    # --- control plane ----------------------------------------------------------------
    def set_policy(self, policy: IncentivePolicy, author: str = "python", reason: str = "") -> None:
        """Queue a new policy; it takes effect at the start of the next round."""
        self._pending_policy.append((IncentivePolicy.model_validate(policy.model_dump()), author, reason))

    def run_command(self, kind: str, payload_json: str, author: str, reason: str) -> str:
        """Apply one control command through its handler; returns the outcome to record."""
        handler = self.control_handlers.get(kind)
        if handler is None:
            return f"ignored: unknown command '{kind}'"
        try:
            return handler(self, json.loads(payload_json), author, reason)
        except (ValueError, TypeError) as err:
            return f"rejected: {err}"

    def _apply_control(self, log: RoundLog) -> None:
        store = self.recorder.store
        commands = []
        if store is not None:
            try:
                commands = pending_commands(store, self.run_id)
            except Exception as err:  # the store is away: the commands stay pending for a later round
                if not is_transient(err):
                    raise
        if store is not None:
            for cmd in commands:
                outcome = self.run_command(cmd.kind, cmd.payload_json, cmd.author, cmd.reason)
                assert cmd.id is not None
                mark_applied(store, cmd.id, log.round, outcome)
                self.tracer.control(cmd.kind, cmd.author, outcome)
        for policy, author, reason in self._pending_policy:
            changed = policy_diff(self.policy, policy)
            self.policy = self.market.policy = policy
            note = f"policy changed in round {log.round} by {author}: {json.dumps(changed, sort_keys=True)}"
            for m in self.market.members.values():
                m.notices.append(note + (f" ({reason})" if reason else ""))
            self.recorder.policy_change(log.round, policy, author, reason)
            self.tracer.policy_change(log.round, policy, author, reason, changed)
        self._pending_policy.clear()

    # --- the run ----------------------------------------------------------------------
    def run(
        self,
        rounds: int | None = None,
        progress: Callable[[int, int], None] | None = None,
        show_progress: bool = False,
    ) -> RunResult:
        """Run to the end (or ``rounds`` more rounds) and return the result.

        Works inside a running event loop too (a notebook cell): the run then goes on a worker
        thread while this call waits (``sandbox.loop``). In async code, ``await session.arun()``.
        ``show_progress`` draws a rounds bar with the model calls answered, in flight and waiting
        (``sandbox.progress``), in a terminal or a notebook.
        """
        if not show_progress:
            return run_sync(self.arun(rounds, progress))
        from sandbox.progress import RunProgress

        with RunProgress(self) as bar:

            def both(done: int, total: int) -> None:
                bar.update(done, total)
                if progress is not None:
                    progress(done, total)

            return run_sync(self.arun(rounds, both))

    async def arun(self, rounds: int | None = None, progress: Callable[[int, int], None] | None = None) -> RunResult:
        """Async form of ``run``, for callers that already have an event loop."""
        with gcfreeze.frozen():  # the collector skips what existed before the run (sandbox/gcfreeze.py)
            return await self._arun(rounds, progress)

    async def _arun(self, rounds: int | None, progress: Callable[[int, int], None] | None) -> RunResult:
        target = self.scenario.rounds if rounds is None else self.round + rounds
        self._begin()
        self._write_unsaved()  # a round played before a store outage is written before anything else
        try:
            self.tracer.start_run()
            while self.round < target:
                await self.astep()
                if progress:
                    progress(self.round, target)
            self.tracer.end_run()  # flushes the spans and checks none was lost
        except StoreUnavailable as err:
            self._stop_on_outage(err)
            raise
        except BaseException as err:
            status = "interrupted" if isinstance(err, (KeyboardInterrupt, asyncio.CancelledError)) else "failed"
            try:
                self.recorder.finish(status, self.summary(), error=f"{type(err).__name__}: {err}"[:2000])
            except StoreError:  # the store is away too: the run's own error is the one to report
                pass
            self.tracer.end_run(err)  # raises TraceStoreError from err if spans could not be written
            raise
        self.recorder.finish("finished" if self.round >= self.scenario.rounds else "paused", self.summary())
        return RunResult(self.run_id, self.round, self.summary(), self.history)

    def _begin(self) -> None:
        if self._begun:
            return
        self.totals.max_surplus = to_micros(self.market.max_surplus())
        self.recorder.begin(self.scenario, self.agents, self.market.members, time.time())
        self._begun = True  # only once the run's rows are written: a store outage here leaves it to retry

    def _commit(self, log: RoundLog, metrics: dict[str, Any]) -> None:
        """Write the round (retrying while the store is away), then count its spans and run the hooks."""
        self._unsaved = (log, metrics)
        if self.recorder.unsaved_round == log.round:
            self.recorder.write_unsaved()
            self.ledger.drain()  # the round's postings, kept pending until written
        else:
            self.recorder.commit(log, metrics, self.ledger)
        self._unsaved = None
        self.tracer.confirm()
        for hook in self.hooks.after_commit:
            hook(self, log)

    def _write_unsaved(self) -> None:
        if self._unsaved is not None:
            self._commit(*self._unsaved)

    def _stop_on_outage(self, err: StoreUnavailable) -> None:
        """The store stayed away: keep the unwritten round in memory and end the segment without writing."""
        wait, self.recorder.store_wait = self.recorder.store_wait, 0.0  # one try: it just had its full wait
        try:
            self.recorder.finish("store_unavailable", self.summary(), error=str(err)[:2000])
        except StoreError:
            pass
        finally:
            self.recorder.store_wait = wait
        try:
            self.tracer.end_run(err)
        except TraceStoreError:  # the held spans are written with the round, when the store is back
            pass

    async def astep(self) -> RoundLog:
        """Play one round."""
        self._begin()
        self.round += 1
        self.market.round = self.round
        log = RoundLog(self.round)
        gcfreeze.round_start()  # no collector passes while rounds play; one short pass here (sandbox/gcfreeze.py)
        with self.tracer.round(self.round):
            for hook in self.hooks.round_start:
                hook(self, log)
            self._apply_control(log)
            fines: Counter[str] = Counter()
            used: Counter[str] = Counter()  # actions per agent this round, over all its steps
            members = self.market.members
            addressed: list[str] = list(members)
            for step in range(self.scenario.market.max_substeps + 1):
                observer = Observer(
                    self.market, self.protocol.config, self.policy.model_dump(), self.scenario.rounds, self.limits
                )
                agents = self.agents
                observations = {
                    aid: (observer.view if agents[aid].on_demand_observation else observer.observe)(
                        members[aid], self._receipts.pop(aid, ())
                    )
                    for aid in addressed
                }
                decisions = await self._decide(observations, log, step)
                observer.close()  # parts of on-demand observations not read by now show the round-start market
                if step and not decisions:
                    break
                log.substeps = step
                self._drain_agent_records(log)
                first = len(log.records)
                self._apply_actions(decisions, log, fines, used, step)
                addressed = self._addressed(log, first)
                if not addressed:
                    break
            self._end_round(log, fines)
        return log

    async def _decide(self, observations: dict[str, Any], log: RoundLog, step: int) -> dict[str, Any]:
        """Turns of the agents whose view changed in a way that matters to them; the others wait.

        Step 0 is the round's start: every agent gets a turn or a recorded wait. A sub-step
        (``step`` > 0) calls only the addressed agents that see a new event.
        """
        out: dict[str, Sequence[Any] | BaseException] = {}
        waiting = []
        # at a round's start an every-round agent always gets its turn; without sub-steps nothing ever
        # reads the wake state it would update, so the check is skipped (agents/wake.py)
        no_wake_check = step == 0 and self.scenario.market.max_substeps == 0
        for aid, obs in observations.items():
            agent = self.agents[aid]
            if no_wake_check and agent.wake.every_round and type(agent).wants_turn is Agent.wants_turn:
                go, why = True, "every round"
            else:
                try:
                    go, why = agent.wants_turn(obs, step > 0)
                except Exception as err:  # a broken wake rule costs the agent nothing: it gets its turn
                    go, why = True, f"wake check failed: {type(err).__name__}"
            if not go:
                self._receipts[aid][:0] = obs.receipts  # kept for the turn that sees them
                if step == 0:
                    log.waits += 1
                    self.tracer.wait(agent, why)
                continue
            log.turns += 1
            reseed(
                agent.rng, f"{self.seed}/{aid}/{self.round}" if step == 0 else f"{self.seed}/{aid}/{self.round}/{step}"
            )
            if agent.is_async:
                waiting.append((aid, self.tracer.adecide(agent, obs, self._dry_run(aid))))
                continue
            try:
                out[aid] = self.tracer.decide(agent, obs)
            except Exception as err:  # a buggy agent loses its turn, not the run
                out[aid] = err
        if waiting:
            results = await asyncio.gather(*(c for _, c in waiting), return_exceptions=True)
            for (aid, _), res in zip(waiting, results, strict=True):
                if isinstance(res, BaseException) and not isinstance(res, Exception):
                    raise res
                out[aid] = res
        return out

    def _addressed(self, log: RoundLog, first: int) -> list[str]:
        """Agents a step's applied actions address: both parties of every thread that moved, whoever got
        a message, and whoever had an action rejected at application (not for a failed turn)."""
        found: set[str] = set()
        threads = self.market.threads
        for rec in log.records[first:]:
            if not rec.verdict.accepted and rec.verdict.rule not in (Rule.AGENT_ERROR, Rule.RATE_LIMIT):
                found.add(rec.agent_id)
            t = threads.get(rec.thread_id) if rec.thread_id else None
            if t is not None:
                found.update((t.buyer, t.seller))
        found.update(aid for aid, m in self.market.members.items() if m.inbox)
        return sorted(found & self.market.members.keys())

    def _drain_agent_records(self, log: RoundLog) -> None:
        """Rows agents kept about their own turns (LLM call records) go into the round's batch."""
        for aid in sorted(self.agents):
            drain = getattr(self.agents[aid], "drain_records", None)
            if drain is not None:
                for table, rows in drain().items():
                    log.batch.extend(table, ({"run_id": self.run_id, "round": log.round, **r} for r in rows))

    def _dry_run(self, aid: str) -> DryRun:
        return lambda action: self.protocol.submit(action, self.market, aid)

    def _check(self, item: Any, aid: str) -> tuple[ActionBase | None, Verdict, str | None]:
        """The action, its verdict and its payload for the record (None: the action's own JSON, for
        ``_record`` to make, or to leave to a ``LazyActionRecord`` when nothing stores or traces it)."""
        if isinstance(item, ActionBase):
            return item, self.protocol.submit(item, self.market, aid), None
        if isinstance(item, (str, bytes, dict)):
            try:  # nothing an agent returns may fail the run: circular, 5,000-deep, unprintable
                raw = (
                    item
                    if isinstance(item, str)
                    else (
                        item.decode("utf-8", "replace") if isinstance(item, bytes) else json.dumps(item, default=repr)
                    )
                )
                action, verdict = self.protocol.submit_raw(item, self.market, aid)
            except (ValueError, TypeError, RecursionError) as err:
                reason = f"the action could not be read ({type(err).__name__}: {_text(err, 200)})"
                return None, Verdict.reject(Rule.SCHEMA, reason), _bounded_repr(item)
            return action, verdict, raw[:8000]
        return (
            None,
            Verdict.reject(Rule.SCHEMA, f"agents must return actions, got {type(item).__name__}"),
            _bounded_repr(item),
        )

    def _apply_actions(
        self,
        decisions: dict[str, Sequence[Any] | BaseException],
        log: RoundLog,
        fines: Counter[str],
        used: Counter[str],
        step: int = 0,
    ) -> None:
        order = sorted(decisions)
        random.Random(f"{self.seed}/order/{self.round}" + (f"/{step}" if step else "")).shuffle(order)
        cap = self.scenario.market.max_actions_per_round
        for aid in order:
            out = decisions[aid]
            if isinstance(out, BaseException):
                verdict = Verdict.reject(Rule.AGENT_ERROR, f"the turn failed: {type(out).__name__}: {_text(out)}")
                self._record(log, aid, "turn_error", "", verdict, None, fines)
                continue
            items = out if isinstance(out, (list, tuple)) else [out]
            keep = max(0, cap + self.scenario.market.flood_rows - used[aid])  # the cap counts every step of the round
            for item in items[:keep]:
                span = self.tracer.submit_start(aid)  # None when tracing is off
                action, verdict, payload = self._check(item, aid)
                used[aid] += 1
                if used[aid] > cap:
                    verdict = Verdict.reject(Rule.RATE_LIMIT, f"at most {cap} actions per round; the rest were dropped")
                kind = action.type if action is not None else "invalid"  # type: ignore[attr-defined]
                thread_id = field_or_none(action, "thread_id")
                if verdict.accepted:
                    assert action is not None
                    self.market.note_applied(action, aid)  # per-round activity the safety checks read
                    thread_id, deal = self.market.apply(apply_redactions(action, verdict), aid, self.policy)
                    if deal is not None:
                        log.deals.append(self._deal_record(deal))
                self._record(log, aid, kind, payload, verdict, thread_id, fines, action=action, lazy=span is None)
                if span is not None:
                    self.tracer.submit_end(span, log.records[-1], action)
            if len(items) > keep:  # a flood: refused unread (past the cap), one row for all of them
                n = len(items) - keep
                used[aid] += n
                reason = (
                    f"{n:,} more actions past the limit of {cap} per round were dropped unread; "
                    f"recorded as this one row (fined as {n:,} rate_limit refusals)"
                )
                self._record(log, aid, "flood", "", Verdict.reject(Rule.RATE_LIMIT, reason), None, fines, count=n)

    def _record(
        self,
        log: RoundLog,
        aid: str,
        kind: str,
        payload: str | None,
        verdict: Verdict,
        thread_id: str | None,
        fines: Counter[str],
        count: int = 1,
        action: ActionBase | None = None,
        lazy: bool = False,
    ) -> None:
        """Record one action (``payload`` None: ``action``'s JSON) and, for the agent, its receipt (the
        record itself with the round: ``sandbox.observe.receipt_of`` makes the ``Receipt`` when read)."""
        seq = len(log.records) + 1
        if payload is not None:
            log.records.append(ActionRecord(seq, aid, kind, payload, verdict, thread_id))
        elif lazy and self.recorder.store is None and type(action) in _BUILT_IN_ACTIONS:
            log.records.append(LazyActionRecord(seq, aid, kind, action, verdict, thread_id))
        else:
            assert action is not None
            payload = action.model_dump_json(exclude_none=True)
            log.records.append(ActionRecord(seq, aid, kind, payload, verdict, thread_id))
        self._receipts[aid].append((log.round, log.records[-1]))  # the Receipt is made if the agent reads it
        if not verdict.accepted:
            self.rejections[verdict.rule] += count
            fine = self.policy.fine_for(verdict.rule)
            if fine > 0:
                fines[aid] += to_micros(fine) * count

    def _deal_record(self, deal: Deal) -> DealRecord:
        t = deal.thread
        buyer, seller = self.market.members[t.buyer], self.market.members[t.seller]
        settled = deal.status == "settled"
        value = (
            buyer.private.values.get(t.service, 0.0) if settled and buyer.units_settled <= buyer.private.demand else 0.0
        )
        cost = seller.private.costs.get(t.service, 0.0) if settled else 0.0
        if settled and deal.value is not None and deal.cost is not None:  # the mechanism knew the unit's value and cost
            value, cost = deal.value / 1e6, deal.cost / 1e6
        self._tx_seq += 1
        record = DealRecord(
            self._tx_seq, t, deal.status, deal.price, deal.fee, to_micros(value), to_micros(cost), deal.round
        )
        self.tracer.settle(record)
        return record

    def _end_round(self, log: RoundLog, fines: Counter[str]) -> None:
        for deal in self.market.run_deadlines(self.policy):
            log.deals.append(self._deal_record(deal))
        for aid in sorted(fines):
            taken = self.ledger.post_all(
                settlement.fine(aid, fines[aid], self.market.available_micros(aid)), log.round, ref="fine"
            )
            if taken:
                log.fines += taken[0].amount
                self.market.members[aid].notices.append(
                    f"fined {taken[0].amount / 1e6:.2f} for rejected actions in round {log.round}"
                )
        self.ledger.check(settlement.ESCROW, self.market.escrow_expected())
        for hook in self.hooks.round_end:
            hook(self, log)
        balances = {aid: self.market.available_micros(aid) for aid in self.market.members}
        log.facts = self.market.round_facts()
        update_totals(self.totals, log, balances)
        metrics = report(log, self.totals)
        self.history.append({"round": log.round, **metrics})
        self.tracer.end_round()
        self.tracer.stage(log)  # the spans ended so far, the round's own included, commit with its records
        self._commit(log, metrics)

    # --- results --------------------------------------------------------------------------
    def summary(self) -> dict[str, Any]:
        """Run totals: transactions, volume, surplus, efficiency, rejections by rule."""
        t = self.totals
        return {
            "run_id": self.run_id,
            "rounds": self.round,
            "agents": len(self.agents),
            "transactions": t.n_tx,
            "volume": t.volume / 1e6,
            "mean_price": (t.volume / t.n_tx / 1e6) if t.n_tx else None,
            "surplus": t.surplus / 1e6,
            "max_surplus": t.max_surplus / 1e6,
            "efficiency": (t.surplus / t.max_surplus) if t.max_surplus else None,
            "fees": t.fees / 1e6,
            "fines": t.fines / 1e6,
            "actions": sum(h["actions"] for h in self.history),
            "violations": sum(n for rule, n in self.rejections.items() if rule in VIOLATION_RULES),
            "quality": (t.quality_sum / t.quality_n) if t.quality_n else None,
            "rejections": dict(sorted(self.rejections.items())),
            "alerts": self.safety.summary(),
            "mechanism": self.market.mechanism,
            "market": self.market.summary(),
        }

    def metrics(self) -> Any:
        """Per-round metrics so far as a pandas DataFrame."""
        return RunResult(self.run_id, self.round, self.summary(), self.history).metrics()


def reseed(rng: random.Random, key: str) -> None:
    """``rng.seed(key)``, the same state, without ``Random.seed``'s Python-level dispatch for a plain
    ``random.Random`` (what version 2 does with a string: the key's bytes and their SHA-512 as one int)."""
    if type(rng) is not random.Random:
        rng.seed(key)
        return
    b = key.encode()
    _CRandom.seed(rng, int.from_bytes(b + sha512(b).digest()))
    rng.gauss_next = None  # type: ignore[attr-defined]


def _text(err: BaseException, limit: int = 2000) -> str:
    """An exception's text, cut to ``limit`` characters; a ``__str__`` that raises is not the run's problem."""
    try:
        text = str(err)
    except Exception:  # noqa: BLE001
        text = f"<{type(err).__name__} whose text cannot be shown>"
    return text if len(text) <= limit else f"{text[:limit]}... [{len(text) - limit:,} more characters cut]"


def _bounded_repr(item: Any) -> str:
    """A short repr of anything (reprlib stops at depth 6 and long strings), for the record."""
    import reprlib

    r = reprlib.Repr()
    r.maxlevel, r.maxstring, r.maxother = 6, 2000, 200
    try:
        return r.repr(item)[:8000]
    except Exception:  # noqa: BLE001  (a hostile __repr__)
        return f"<{type(item).__name__}>"


def _set_policy_command(session: Session, payload: dict[str, Any], author: str, reason: str) -> str:
    """Control command ``set_policy``: payload is the full policy, or fields to change."""
    base = session._pending_policy[-1][0] if session._pending_policy else session.policy
    session.set_policy(base.with_changes(payload), author, reason)
    return "applied"
