"""The safety layer's circuit breakers as a session steps them: per agent, per service, market, session.

``BreakerBoard`` is the part of ``sandbox.safety.layer.SafetyLayer`` that feeds each breaker its
round's count of bad events (from the round's records, the market's activity counters, the
mechanism's prices and the LLM agents' spend), records transitions and tells the agents.
The state machine itself is ``protocols.breakers``.
"""

from __future__ import annotations

from collections import Counter, deque
from typing import TYPE_CHECKING

from opentelemetry import trace

from protocols import semconv as sc
from protocols.breakers import BreakerConfig, BreakerState, CircuitBreaker, Transition, step
from protocols.detectors import RoundFacts
from protocols.detectors.facts import of_kind
from protocols.safety import SafetyConfig
from protocols.verdict import Rule
from sandbox.record import RoundLog

if TYPE_CHECKING:
    from sandbox.session import Session

QUIET = CircuitBreaker("quiet", "")  # stands for every breaker that never saw an event


class BreakerBoard:
    """Every breaker of a run, keyed by (breaker name, subject), and their transitions."""

    session: Session
    cfg: SafetyConfig
    facts: deque[RoundFacts]

    def __init__(self) -> None:
        self.breakers: dict[tuple[str, str], CircuitBreaker] = {}
        self.transitions: list[Transition] = []

    def _step(self, name: str, subject: str, cfg: BreakerConfig, events: float, what: str) -> CircuitBreaker:
        b = self.breakers.get((name, subject))
        if b is None:
            if events <= 0:
                return QUIET
            b = CircuitBreaker(name, subject)
        nb, tr = step(b, cfg, self.session.round, events, what)
        self.breakers[(name, subject)] = nb
        if tr is not None:
            self.transitions.append(tr)
            self._notify_transition(tr)
            trace.get_current_span().add_event(
                sc.EVENT_BREAKER,
                {sc.BREAKER_NAME: tr.breaker, sc.BREAKER_SUBJECT: tr.subject, sc.BREAKER_STATE: tr.after.value},
            )
        return nb

    def _notify_transition(self, tr: Transition) -> None:
        members = self.session.market.members
        text = f"breaker {tr.breaker} on {tr.subject}: {tr.before.value} -> {tr.after.value} ({tr.reason})"
        targets = [tr.subject] if tr.subject in members else list(members)
        for aid in targets:
            members[aid].notices.append(text)

    def _agent_breakers(self, log: RoundLog) -> None:
        bcfg, conduct = self.cfg.breakers, set(self.cfg.conduct_rules)
        violations: Counter[str] = Counter()
        errors: Counter[str] = Counter()
        rate_limit, agent_error = Rule.RATE_LIMIT.value, Rule.AGENT_ERROR.value  # enum lookups hoisted out of the loop
        for r in log.records:
            v = r.verdict
            if not v.accepted and v.rule in conduct:
                # the market's cap on actions per round drops a busy honest agent's extra actions
                # too; only rate-limited messages count as misconduct
                if v.rule != rate_limit or r.action_type == "message":
                    violations[r.agent_id] += 1
            if v.rule == agent_error:
                errors[r.agent_id] = 1
        for aid, agent in self.session.agents.items():
            last = getattr(agent, "last_turn", None)
            if isinstance(last, dict) and last.get("end_reason") == "error":
                errors[aid] = 1
        market = self.session.market
        # a breaker that never saw an event stays closed without a step: step only the rest
        spending = market.spenders() if bcfg.spend_rate else set()
        stepped = {subj for (_, subj) in self.breakers} | set(violations) | set(errors) | spending
        for aid in sorted(stepped & market.members.keys()):
            if bcfg.violations is not None:
                self._step("violations", aid, bcfg.violations, violations[aid], "rejected actions")
            if bcfg.model_errors is not None:
                self._step("model_errors", aid, bcfg.model_errors, errors[aid], "failed turns")
            if bcfg.spend_rate is not None:
                spent = market.activity(aid).spent_micros / 1e6
                self._step("spend_rate", aid, bcfg.spend_rate, spent, "currency units committed")

    def _market_breakers(self, facts: RoundFacts) -> None:
        bcfg, market = self.cfg.breakers, self.session.market
        if bcfg.price_band is not None:
            recent = list(self.facts)[-bcfg.price_window :]
            known = {subj for (name, subj) in self.breakers if name == "price_band"}
            for scope in sorted(known | {f"service:{t.service}" for rf in recent for t in rf.trades}):
                service = scope.split(":", 1)[1]
                earlier = sorted(t.price for rf in recent[:-1] for t in rf.trades if t.service == service)
                now = sorted(t.price for t in facts.trades if t.service == service)
                moved = 0.0
                if len(now) >= bcfg.price_min_trades and len(earlier) >= bcfg.price_min_trades:
                    ref, cur = earlier[len(earlier) // 2], now[len(now) // 2]
                    moved = abs(cur - ref) / ref if ref > 0 else 0.0
                b = self._step(
                    "price_band",
                    scope,
                    bcfg.price_band,
                    1.0 if moved > bcfg.price_move else 0.0,
                    f"price moves beyond {bcfg.price_move:.0%}",
                )
                (market.halted.add if b.blocks else market.halted.discard)(scope)
        if bcfg.message_storm is not None:
            attempted = len(of_kind(facts, "message"))
            b = self._step(
                "message_storm",
                "messages",
                bcfg.message_storm,
                1.0 if attempted > bcfg.storm_messages else 0.0,
                f"rounds over {bcfg.storm_messages} messages",
            )
            (market.halted.add if b.blocks else market.halted.discard)("messages")

    def _session_budget(self) -> None:
        bcfg = self.cfg.breakers
        if bcfg.token_budget is None and bcfg.money_budget is None:
            return
        tokens, cost = 0, 0.0
        for agent in self.session.agents.values():
            spend = getattr(agent, "spend", None)  # LLM agents count tokens and cost; others have none
            tokens += int(getattr(spend, "tokens", 0) or 0)
            cost += float(getattr(spend, "cost_usd", 0.0) or 0.0)
        over = (bcfg.token_budget is not None and tokens >= bcfg.token_budget) or (
            bcfg.money_budget is not None and cost >= bcfg.money_budget
        )
        b = self.breakers.get(("budget", "session")) or CircuitBreaker("budget", "session")
        if over and b.state is BreakerState.CLOSED:
            reason = f"session budget spent: {tokens} tokens, ${cost:.4f}; every agent stops"
            nb = CircuitBreaker(
                "budget", "session", BreakerState.OPEN, opened_round=self.session.round, cooldown=10**9, trips=1
            )
            self.breakers[("budget", "session")] = nb
            tr = Transition("budget", "session", BreakerState.CLOSED, BreakerState.OPEN, self.session.round, reason)
            self.transitions.append(tr)
            self._notify_transition(tr)
