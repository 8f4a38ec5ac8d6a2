"""Builders for the safety tests: a real market with competing sellers and a protocol with the safety checks."""

from __future__ import annotations

from typing import Any

from agents.observation import Private
from protocols import Protocol, ProtocolConfig
from protocols.communication import apply_redactions
from protocols.constraints import DEFAULT_CHECKS
from protocols.money import to_micros
from protocols.policy import IncentivePolicy
from protocols.safety import SafetyConfig, safety_checks
from protocols.verdict import Verdict
from sandbox.ledger import Ledger
from sandbox.market import Market, Member


def safety_market(**cfg: Any) -> tuple[Market, Protocol, IncentivePolicy]:
    """Buyers b1 (value 50), b2 (value 40); sellers s1 (cost 10.25), s2 (cost 12) of 'svc'; s3 sells 'other'."""
    market = Market(Ledger())
    market.round = 1
    market.join(Member("b1", "buyer", "test", Private(values={"svc": 50.0}, demand=5), to_micros(500)))
    market.join(Member("b2", "buyer", "test", Private(values={"svc": 40.0}, demand=5), to_micros(500)))
    market.join(Member("s1", "seller", "test", Private(costs={"svc": 10.25}, capacity=20), to_micros(100)))
    market.join(Member("s2", "seller", "test", Private(costs={"svc": 12.0}, capacity=20), to_micros(100)))
    market.join(Member("s3", "seller", "test", Private(costs={"other": 30.0}, capacity=20), to_micros(100)))
    checks = (*DEFAULT_CHECKS, *safety_checks(SafetyConfig.model_validate(cfg)))
    return market, Protocol(ProtocolConfig(min_price=0.01, max_price=500.0), checks), IncentivePolicy(fee_rate=0.0)


def act(
    market: Market, protocol: Protocol, policy: IncentivePolicy, action: Any, who: str
) -> tuple[Verdict, str | None]:
    """Submit, and apply as the session does (counting activity, delivering redacted text)."""
    verdict = protocol.submit(action, market, who)
    if not verdict.accepted:
        return verdict, None
    market.note_applied(action, who)
    thread_id, _ = market.apply(apply_redactions(action, verdict), who, policy)
    return verdict, thread_id
