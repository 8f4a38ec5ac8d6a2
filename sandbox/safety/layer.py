"""The safety layer applied to a session: checks, breakers, detectors and interventions.

``SafetyLayer.install(session)`` appends the safety checks to ``session.protocol.checks``,
adds a round-start hook (lifts throttles and suspensions that ran out) and a round-end hook
(steps the breakers, runs the detectors, applies or queues interventions, and puts the
alerts, breaker transitions and interventions into the round's batch), and registers the
``review_alert`` control command. Everything decided here comes from ``protocols``.
"""

from __future__ import annotations

import json
from collections import Counter, deque
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from opentelemetry import trace

from protocols import semconv as sc
from protocols import settlement
from protocols.detectors import Alert, RoundFacts, run_detectors
from protocols.interventions import Decision, Intervention, Step, decide, is_auto, plan
from protocols.money import to_micros
from protocols.safety import SafetyConfig, safety_checks
from sandbox.record import RoundLog
from sandbox.safety.breakers import BreakerBoard
from sandbox.safety.cases import Case
from sandbox.safety.facts import breaker_rows, market_facts, round_facts

if TYPE_CHECKING:
    from sandbox.session import Session


class SafetyLayer(BreakerBoard):
    """Per-run safety state: breakers, throttles, suspensions, bans, alerts and offences."""

    def __init__(self, session: Session, cfg: SafetyConfig) -> None:
        super().__init__()
        self.session = session
        self.cfg = cfg
        self.facts: deque[RoundFacts] = deque(maxlen=cfg.detectors.lookback)
        self.alerts: dict[str, Case] = {}  # alert cases by id (A1, A2, ...)
        self._cases: dict[tuple[str, tuple[str, ...], str], Case] = {}  # by finding (kind, agents, service)
        self._cumulative: dict[str, dict[str, float]] = {}  # service -> seller -> volume since round 1
        self.offences: Counter[tuple[str, str]] = Counter()
        self.applied: list[dict[str, Any]] = []  # every intervention, as recorded
        self.suspended_until: dict[str, int | None] = {}  # agent -> last suspended round (None: banned)
        self.throttled_until: dict[str, tuple[int, int]] = {}  # agent -> (last round, actions per round)
        self._log: RoundLog | None = None
        self._breaker_seq = 0
        self._intervention_seq = 0
        self._market_facts: Any = None
        self._blocked: set[str] = set()  # subjects whose breaker is open
        self._kept: dict[str, Any] = {}  # detectors kept across rounds (run_detectors)

    @classmethod
    def install(cls, session: Session, cfg: SafetyConfig | None = None) -> SafetyLayer:
        """Wire the safety layer into a session (checks, hooks, control handler)."""
        layer = cls(session, cfg or SafetyConfig())
        if layer.cfg.enabled:
            session.protocol.checks = (*session.protocol.checks, *safety_checks(layer.cfg))
            session.hooks.round_start.append(layer.round_start)
            session.hooks.round_end.append(layer.round_end)
        session.control_handlers["review_alert"] = layer.review_command
        return layer

    # --- round start: lift what ran out -------------------------------------------------
    def round_start(self, session: Session, log: RoundLog) -> None:
        """Remember the round's log and bring suspensions and throttles up to date."""
        self._log = log
        if self._market_facts is None:
            self._market_facts = market_facts(session.market, self.cfg)
        for aid in list(self.suspended_until) + list(self.throttled_until):
            self._sync(aid)

    def _sync(self, aid: str) -> None:
        # the safety layer owns Member.suspended and Member.action_cap
        m = self.session.market.members.get(aid)
        if m is None:
            return
        r = self.session.round
        until = self.suspended_until.get(aid, -1)
        if aid in self.suspended_until and until is not None and until < r:
            del self.suspended_until[aid]
        m.suspended = aid in self.suspended_until or aid in self._blocked or "session" in self._blocked
        cap = self.throttled_until.get(aid)
        if cap is not None and cap[0] < r:
            del self.throttled_until[aid]
            cap = None
        m.action_cap = None if cap is None else cap[1]
        self.session.market.invalidate_activity()

    # --- round end ------------------------------------------------------------------------
    def round_end(self, session: Session, log: RoundLog) -> None:
        """Step the breakers, run the detectors, act on alerts; queue the round's safety rows."""
        self._log = log
        facts = round_facts(log, session.market, self._cumulative)
        self.facts.append(facts)
        before = len(self.transitions)
        self._agent_breakers(log)
        self._market_breakers(facts)
        self._session_budget()
        new = self.transitions[before:]
        log.batch.extend("breaker_events", breaker_rows(session.run_id, self._breaker_seq + 1, new))
        self._breaker_seq += len(new)
        blocked = {subj for (_, subj), b in self.breakers.items() if b.blocks}
        changed = blocked ^ self._blocked  # only these members' suspension can change with the breakers
        self._blocked = blocked
        members = session.market.members
        for aid in members if "session" in changed else changed & members.keys():
            self._sync(aid)
        self._detect(log)

    # --- detectors and interventions --------------------------------------------------------
    def _detect(self, log: RoundLog) -> None:
        """Run the detectors; each finding opens a case or adds a hit to its case (at most one per
        ``repeat_after`` rounds); the cases that changed are written as upserts with the round."""
        cfg = self.cfg.detectors
        stepped: set[tuple[str, str]] = set()
        touched: dict[str, Case] = {}
        for alert in run_detectors(list(self.facts), self._market_facts, cfg, self._kept):
            case = self._cases.get(alert.key)
            if case is not None and log.round - case.last_round < cfg.repeat_after:
                continue
            if case is None:
                case = Case.open(f"A{len(self.alerts) + 1}", log.round, alert, is_auto(alert, self.cfg.interventions))
                self._cases[alert.key] = self.alerts[case.id] = case
                raised = True
            else:
                case.hit(log.round, alert)
                raised = self._recur(case, alert)
                if not case.auto and case.status == "open" and is_auto(alert, self.cfg.interventions):
                    # a hit severe enough for the policy: it acts now rather than wait for a person
                    case.auto, case.status, case.decision, case.decided_by = True, "confirmed", "confirm", "policy"
                    case.decision_reason, case.decided_round = "automatic by policy", log.round
            touched[case.id] = case
            if case.auto:
                steps = [
                    iv
                    for iv in plan(alert, self.offences, self.cfg.interventions)
                    if (iv.agent, alert.kind) not in stepped
                ]  # one step up the ladder per agent, kind and round
                stepped.update((iv.agent, alert.kind) for iv in steps)
                case.applied = [*(case.applied or []), *self._apply(steps, case.id, "policy")]
            elif raised:
                for a in alert.agents:
                    if a in self.session.market.members:
                        self.session.market.members[a].notices.append(
                            f"alert {case.id} ({alert.kind}) names you and awaits review: {alert.summary}"
                        )
            if raised:
                trace.get_current_span().add_event(
                    sc.EVENT_ALERT,
                    {
                        sc.ALERT_ID: case.id,
                        sc.ALERT_KIND: alert.kind,
                        sc.ALERT_SEVERITY: alert.severity.value,
                        sc.ALERT_AGENTS: list(alert.agents),
                        sc.ALERT_STATUS: case.status,
                    },
                )
        log.batch.extend("alerts", (c.row(self.session.run_id) for c in touched.values()))

    def _recur(self, case: Case, alert: Alert) -> bool:
        """A finding came back to its case: whether that (re)raises it for review."""
        if case.auto:
            return False
        if case.status == "dismissed":
            if not case.outgrew_dismissal(alert, self.cfg.detectors.reopen_margin):
                return False  # stays quiet: only the count and the evidence grow
        elif case.status == "open":
            return False  # already waiting for a person: the hit only adds evidence
        case.status, case.reopened = "open", case.reopened + 1
        case.decision = case.decided_by = case.decision_reason = case.decided_round = None
        return True

    def _apply(self, steps: list[Intervention], alert_id: str | None, author: str) -> list[dict[str, Any]]:
        """Carry out interventions now; returns what was applied, as recorded."""
        market, r, out = self.session.market, self.session.round, []
        kind = self.alerts[alert_id].alert.kind if alert_id in self.alerts else "manual"
        for iv in steps:
            m = market.members.get(iv.agent)
            if m is None:
                continue
            taken = 0
            if iv.step is Step.FINE:
                entries = self.session.ledger.post_all(
                    settlement.fine(iv.agent, to_micros(iv.amount), market.available_micros(iv.agent)),
                    r,
                    ref=f"alert:{alert_id}",
                )
                taken = sum(e.amount for e in entries)
                if self._log is not None:
                    self._log.fines += taken
            elif iv.step is Step.THROTTLE:
                assert iv.rounds is not None and iv.actions is not None
                self.throttled_until[iv.agent] = (r + iv.rounds, iv.actions)
            elif iv.step is Step.SUSPEND:
                assert iv.rounds is not None
                self.suspended_until[iv.agent] = r + iv.rounds
            elif iv.step is Step.BAN:
                self.suspended_until[iv.agent] = None
            self.offences[(iv.agent, kind)] += 1
            self._sync(iv.agent)
            what = {
                Step.FINE: f"fined {taken / 1e6:.2f}",
                Step.THROTTLE: f"throttled to {iv.actions} actions a round for {iv.rounds} rounds",
                Step.SUSPEND: f"suspended for {iv.rounds} rounds",
                Step.BAN: "banned",
                Step.WARN: "warned",
            }[iv.step]
            m.notices.append(f"{what} by {author}: {iv.reason}")
            self._intervention_seq += 1
            row = {
                "run_id": self.session.run_id,
                "seq": self._intervention_seq,
                "round": r,
                "agent_id": iv.agent,
                "step": iv.step.value,
                "amount": taken,
                "rounds": iv.rounds,
                "alert_id": alert_id,
                "author": author,
                "reason": iv.reason,
            }
            self.applied.append(row)
            trace.get_current_span().add_event(
                sc.EVENT_INTERVENTION,
                {sc.AGENT_ID: iv.agent, sc.INTERVENTION_STEP: iv.step.value, sc.ALERT_ID: alert_id or ""},
            )
            if self._log is not None:
                self._log.batch.add("interventions", row)
            out.append({k: v for k, v in asdict(iv).items() if v is not None} | {"taken": taken})
        return out

    def summary(self) -> dict[str, dict[str, int]]:
        """Alerts so far by kind and status (for the run summary)."""
        out: dict[str, dict[str, int]] = {}
        for st_ in self.alerts.values():
            by = out.setdefault(st_.alert.kind, {})
            by[st_.status] = by.get(st_.status, 0) + 1
        return out

    # --- human review -----------------------------------------------------------------------
    def review_command(self, session: Session, payload: dict[str, Any], author: str, reason: str) -> str:
        """Control command ``review_alert``: {alert_id, decision, amount?} from a reviewer."""
        alert_id = str(payload.get("alert_id", ""))
        state = self.alerts.get(alert_id)
        if state is None:
            raise ValueError(f"no alert '{alert_id}' in this run")
        try:
            decision = Decision(str(payload.get("decision", "")))
        except ValueError:
            raise ValueError(f"decision must be one of {', '.join(d.value for d in Decision)}") from None
        amount = payload.get("amount")
        if amount is not None and (not isinstance(amount, (int, float)) or amount < 0):
            raise ValueError("amount must be a number >= 0")
        steps = decide(decision, state.alert, self.offences, self.cfg.interventions, amount)
        applied = self._apply(steps, alert_id, author)
        state.status = "dismissed" if decision is Decision.DISMISS else "confirmed"
        state.decision, state.decided_by = decision.value, author
        state.decision_reason, state.decided_round = reason, session.round
        state.applied = [*(state.applied or []), *applied]
        if decision is Decision.DISMISS:
            state.dismiss()
        store = session.recorder.store
        if store is not None:
            from traces.alerts import set_alert_review

            set_alert_review(
                store,
                session.run_id,
                alert_id,
                status=state.status,
                decision=decision.value,
                author=author,
                reason=reason,
                round_=session.round,
                interventions_json=json.dumps(state.applied),
            )
        return f"{state.status}: {decision.value}, {len(applied)} interventions"
