"""``Session``: a market run, and its round loop.

One round, as docs/architecture.md tells it: apply control (policy changes), observe, decide
concurrently, apply the actions in a seeded order through the protocol, then settle,
fine, check the books, report metrics and commit the round's records in one transaction.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from agents.base import Agent
from agents.observation import ObservationLimits
from agents.registry import register, resolve
from protocols import settlement
from protocols.money import to_micros
from protocols.policy import IncentivePolicy
from protocols.protocol import Protocol
from sandbox import gcfreeze
from sandbox.hooks import ControlHandler, Hook, Hooks, apply_control, set_policy_command
from sandbox.ledger import Ledger
from sandbox.loop import run_sync
from sandbox.market import Market, Member
from sandbox.mechanisms import build_market
from sandbox.metrics import VIOLATION_RULES, RunTotals, report, update_totals
from sandbox.observe import Observer, ReceiptEntry
from sandbox.population import PopulationSpec, check_populations, draw_members
from sandbox.record import RoundLog
from sandbox.recorder import Recorder
from sandbox.safety import SafetyLayer
from sandbox.scenario import Scenario, explain, parse_scenario
from sandbox.seeding import reseed
from sandbox.tracing import session_tracer
from sandbox.turns import Turns
from traces.otel import TraceStoreError, Tracing
from traces.store import Store, StoreError, StoreUnavailable

__all__ = ["ControlHandler", "Hook", "Hooks", "RunResult", "Session", "reseed"]


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


class Session(Turns):
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
        # build_market is typed MarketBase; the engine (Turns, Observer, the safety layer) is typed for Market,
        # which every built-in mechanism's market is (an extension's may be a MarketBase only)
        self.market: Market = build_market(  # type: ignore[assignment]  # a MarketBase: see above
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
        self._accounts: dict[str, str] = {}  # member id -> its ledger account (``_balances``)
        self._begun = False
        self.control_handlers: dict[str, ControlHandler] = {"set_policy": set_policy_command}
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
            apply_control(self, log)
            fines: Counter[str] = Counter()
            used: Counter[str] = Counter()  # actions per agent this round, over all its steps
            addressed: list[str] = list(self.market.members)
            for step in range(self.scenario.market.max_substeps + 1):
                observer = Observer(
                    self.market, self.protocol.config, self.policy.model_dump(), self.scenario.rounds, self.limits
                )
                observations = self._observations(observer, addressed, step)
                decisions = await self._decide(observations, log, step)
                observer.close()  # parts of on-demand observations not read by now show the round-start market
                if step and not decisions:
                    break
                log.substeps = step
                self._drain_agent_records(log)
                first = len(log.records)
                self._apply_actions(decisions, log, fines, used, step)
                if step == self.scenario.market.max_substeps:
                    break  # no sub-step follows: nothing reads whom the actions addressed
                addressed = self._addressed(log, first)
                if not addressed:
                    break
            self._end_round(log, fines)
        return log

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
        balances = self._balances()
        log.facts = self.market.round_facts()
        update_totals(self.totals, log, balances)
        metrics = report(log, self.totals)
        self.history.append({"round": log.round, **metrics})
        self.tracer.end_round()
        self.tracer.stage(log)  # the spans ended so far, the round's own included, commit with its records
        self._commit(log, metrics)

    def _balances(self) -> dict[str, int]:
        """Every member's available money (``Market.available_micros``), the account names made once."""
        members = self.market.members
        if len(self._accounts) != len(members):  # members join, never leave
            self._accounts = {aid: settlement.account(aid) for aid in members}
        get = self.ledger.balances.get
        return {aid: get(account, 0) for aid, account in self._accounts.items()}

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
