"""A round's turns: who decides in a step, and how what they return is checked, applied and recorded.

``Session.astep`` (``sandbox/session.py``) runs the steps of a round; for each step it calls
``_decide`` (wake checks and the agents' turns, run concurrently) and ``_apply_actions`` (the
seeded order, the per-round cap and floods, the protocol's verdicts, the market, the record
and the receipts), then ``_addressed`` for the agents the next sub-step calls. They are
methods of ``Turns``, a base class of ``Session``, so the hot path calls them as before.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections import Counter
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from agents.base import Agent, DryRun
from agents.plain_view import TRUSTED_PLAIN, PlainView
from agents.trader_view import TraderView
from protocols.actions import ACTION_TYPES, ActionBase
from protocols.communication import apply_redactions
from protocols.money import to_micros
from protocols.trusted import field_or_none
from protocols.verdict import Rule, Verdict
from sandbox.record import ActionRecord, DealRecord, LazyActionRecord, RoundLog, action_json
from sandbox.seeding import reseed, seed_now, seed_plain, shuffle
from sandbox.tracing.off import NoTracer

if TYPE_CHECKING:
    from protocols.policy import IncentivePolicy
    from protocols.protocol import Protocol
    from sandbox.market import Deal, Market
    from sandbox.observe import Observer, ReceiptEntry
    from sandbox.recorder import Recorder
    from sandbox.scenario import Scenario

_WANTS_TURN = Agent.wants_turn  # the default wake check (``every_round``, inline where it runs per agent)
# what ``_observations`` hands an agent whose turn needs no wake check (a tuple: a trusted plain agent's values,
# ``Observer.plain_values``)
_VIEWS = (PlainView, TraderView, tuple)
_BUILT_IN_ACTIONS = frozenset(ACTION_TYPES)  # frozen models of plain values: their JSON may be made later


class Turns:
    """The turns and actions of a round's steps; ``Session`` sets the state declared here."""

    scenario: Scenario
    seed: int
    round: int
    run_id: str
    agents: dict[str, Agent]
    market: Market
    protocol: Protocol
    policy: IncentivePolicy
    recorder: Recorder
    tracer: NoTracer
    rejections: Counter[str]
    _receipts: dict[str, list[ReceiptEntry]]
    _tx_seq: int

    async def _decide(self, observations: dict[str, Any], log: RoundLog, step: int) -> dict[str, Any]:
        """Turns of the agents whose view changed in a way that matters to them; the others wait.

        Step 0 is the round's start: every agent gets a turn or a recorded wait. A sub-step
        (``step`` > 0) calls only the addressed agents that see a new event.
        """
        out: dict[str, Sequence[Any] | BaseException] = {}
        waiting = []
        no_wake_check = self._no_wake_check(step)
        tracer = self.tracer
        untraced = type(tracer) is NoTracer  # its ``decide`` only calls the agent's: called here directly
        head, tail = f"{self.seed}/", f"/{self.round}" if step == 0 else f"/{self.round}/{step}"  # the turn's key
        turns = 0
        for aid, obs in observations.items():
            agent = self.agents[aid]
            if type(obs) in _VIEWS or (no_wake_check and every_round(agent)):  # (plain and trader views: only here)
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
            turns += 1
            # the turn's seed: put in when the generator is first used, or at once for an agent that always draws
            rng = agent.rng
            if not agent.draws_every_turn:
                reseed(rng, f"{head}{aid}{tail}")
            elif type(rng) is random.Random:
                seed_plain(rng, f"{head}{aid}{tail}")  # ``seed_now`` of a plain generator, without its dispatch
            else:
                seed_now(rng, f"{head}{aid}{tail}")
            if agent.is_async:
                waiting.append((aid, tracer.adecide(agent, obs, self._dry_run(aid))))
                continue
            try:
                if type(obs) is tuple:  # a trusted plain agent's values (``_observations``)
                    out[aid] = TRUSTED_PLAIN[type(agent).decide](agent, *obs)
                    continue
                out[aid] = agent.decide(obs) if untraced else tracer.decide(agent, obs)
            except Exception as err:  # a buggy agent loses its turn, not the run
                out[aid] = err
        log.turns += turns
        if waiting:
            results = await asyncio.gather(*(c for _, c in waiting), return_exceptions=True)
            for (aid, _), res in zip(waiting, results, strict=True):
                if isinstance(res, BaseException) and not isinstance(res, Exception):
                    raise res
                out[aid] = res
        return out

    def _no_wake_check(self, step: int) -> bool:
        """At a round's start an every-round agent always gets its turn; without sub-steps nothing ever reads
        the wake state its check would update, so the check is skipped (agents/wake.py)."""
        return step == 0 and self.scenario.market.max_substeps == 0

    def _observations(self, observer: Observer, addressed: Sequence[str], step: int) -> dict[str, Any]:
        """What each addressed agent gets for its turn, with the receipts it has not seen (``_decide``): the
        plain or trader view of its member for an agent that reads one (``Agent.plain_view``,
        ``Agent.trader_view``) and whose turn needs no wake check, else an observation, on demand
        (``Agent.on_demand_observation``) or built."""
        agents, members, receipts = self.agents, self.market.members, self._receipts
        plain = self._no_wake_check(step)
        untraced = type(self.tracer) is NoTracer  # a traced turn's span reads the view it was given
        known: dict[type, Any] = {}  # agent class -> its trusted plain method or None (``trusted_plain``), this step
        out: dict[str, Any] = {}
        make: Callable[..., Any]  # the observer's plain, trader, view or observe method
        for aid in addressed:
            agent = agents[aid]
            if (
                plain
                and (agent.plain_view or agent.trader_view)
                and agent.wake.every_round
                and type(agent).wants_turn is _WANTS_TURN
            ):
                if untraced and agent.plain_view and trusted_plain(agent, known) is not None:  # our code: no view
                    out[aid] = observer.plain_values(members[aid], receipts.pop(aid, ()))
                    continue
                make = observer.plain if agent.plain_view else observer.trader
            else:
                make = observer.view if agent.on_demand_observation else observer.observe
            out[aid] = make(members[aid], receipts.pop(aid, ()))
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
        shuffle(order, f"{self.seed}/order/{self.round}" + (f"/{step}" if step else ""))  # ``Random(key).shuffle``
        cap = self.scenario.market.max_actions_per_round
        place = self.market.order_path(self.protocol)  # the mechanism's one-pass check and apply, if it has one
        records, receipts, deals, round_ = log.records, self._receipts, log.deals, log.round
        tracer = None if type(self.tracer) is NoTracer else self.tracer  # None: no submission spans
        lazy = self.recorder.store is None  # nothing stores a record: built-in actions' JSON made when read
        inline = lazy and tracer is None  # ``_record`` of a built-in action, inline
        fine_of: dict[str, int | None] = {}  # rule -> its fine in micro-units (None: none), the round's policy
        allowed = cap + self.scenario.market.flood_rows  # the cap counts every step of the round
        policy = self.policy
        for aid in order:
            out = decisions[aid]
            items: list[Any] | tuple[Any, ...]
            if type(out) is list:
                items = out
            elif isinstance(out, BaseException):
                verdict = Verdict.reject(Rule.AGENT_ERROR, f"the turn failed: {type(out).__name__}: {_text(out)}")
                self._record(log, aid, "turn_error", "", verdict, None, fines)
                continue
            else:
                items = out if isinstance(out, (list, tuple)) else [out]
            n = used.get(aid, 0)
            keep = allowed - n if allowed > n else 0
            # the items read: a plain list within the cap as it is, else a copy cut at the cap (a subclass's own
            # iteration is never trusted to stop)
            for item in items if type(items) is list and len(items) <= keep else items[:keep]:
                span = None if tracer is None else tracer.submit_start(aid)
                n += 1
                used[aid] = n
                done = place(item, aid, policy) if place is not None and n <= cap else None
                if done is not None:  # checked and applied in one pass: an order with no thread
                    verdict, deal = done
                    if deal is not None:
                        deals.append(self._deal_record(deal))
                    if inline and type(item) in _BUILT_IN_ACTIONS:  # ``_record``, inline
                        rec = LazyActionRecord(len(records) + 1, aid, item.type, item, verdict, None)
                        records.append(rec)
                        receipts[aid].append((round_, rec))
                        if not verdict.accepted:
                            rule = verdict.rule
                            self.rejections[rule] += 1
                            if rule not in fine_of:
                                fine_of[rule] = self._fine(rule)
                            if fine_of[rule] is not None:
                                fines[aid] += fine_of[rule]  # type: ignore[operator]
                        continue
                    self._record(log, aid, item.type, None, verdict, None, fines, action=item, lazy=span is None)
                    if span is not None:
                        self.tracer.submit_end(span, log.records[-1], item)
                    continue
                action, verdict, payload = self._check(item, aid)
                if n > cap:
                    verdict = Verdict.reject(Rule.RATE_LIMIT, f"at most {cap} actions per round; the rest were dropped")
                kind = action.type if action is not None else "invalid"
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
        records = log.records
        seq = len(records) + 1
        rec: ActionRecord
        if payload is not None:
            rec = ActionRecord(seq, aid, kind, payload, verdict, thread_id)
        elif lazy and type(action) in _BUILT_IN_ACTIONS and self.recorder.store is None:
            rec = LazyActionRecord(seq, aid, kind, action, verdict, thread_id)
        else:
            assert action is not None
            rec = ActionRecord(seq, aid, kind, action_json(action), verdict, thread_id)
        records.append(rec)
        self._receipts[aid].append((log.round, rec))  # the Receipt is made if the agent reads it
        if not verdict.accepted:
            rule = verdict.rule
            self.rejections[rule] += count
            fine = self._fine(rule)
            if fine is not None:
                fines[aid] += fine * count

    def _fine(self, rule: str) -> int | None:
        """The policy's fine for a rejection by ``rule``, in micro-units; None when it sets none (or not above 0)."""
        fine = self.policy.fine_for(rule)
        return to_micros(fine) if fine > 0 else None

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


def trusted_plain(agent: Agent, known: dict[type, Any] | None = None) -> Any:
    """The method that takes a ``PlainView``'s values one by one, if ``agent``'s class keeps one of our
    ``decide`` functions that only hand them to it, and the method too (``agents.plain_view.TRUSTED_PLAIN``),
    and the instance replaces neither; else None. ``known``: the classes' answers found so far (filled here)."""
    cls = type(agent)
    fn: Any = known.get(cls, _UNKNOWN) if known is not None else _UNKNOWN  # a method, None or _UNKNOWN
    if fn is _UNKNOWN:
        fn = TRUSTED_PLAIN.get(cls.decide)
        if fn is not None and getattr(cls, fn.__name__, None) is not fn:
            fn = None
        if known is not None:
            known[cls] = fn
    if fn is None:
        return None
    own = agent.__dict__
    return None if "decide" in own or fn.__name__ in own else fn


_UNKNOWN = object()


def every_round(agent: Agent) -> bool:
    """The agent's wake rule is every round, and its class keeps the default wake check."""
    return agent.wake.every_round and type(agent).wants_turn is Agent.wants_turn


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
