"""The incentive policy: the levers humans tune while a market runs.

Fees, taxes and subsidies on each settled trade, fines per rule, rewards for outcomes,
reputation (how outcome reports update it and how much it weighs in the ranking buyers
see) and the outcome-based payment rule of the intermediary. Every field is validated;
a policy is frozen, and a change is a new policy (``with_changes``) that the session
records as a new version. Amounts are in currency units; settlement converts them once.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from protocols.verdict import Rule

DEFAULT_FINES: dict[str, float] = {
    Rule.IMPERSONATION.value: 5.0,
    Rule.SELF_TRADE.value: 2.0,
    Rule.FUNDS.value: 0.5,
}


class ReputationRule(BaseModel):
    """How reputation moves with outcome reports, and how much buyers' rankings weigh it.

    Update: ``r <- (1 - alpha) * r + alpha * score`` for each reported (or drawn) outcome
    score in [0, 1], starting from ``prior``. Ranking: listings are shown to buyers in
    increasing order of ``ask * (1 + weight * (1 - r))``; with ``weight`` 0 only price counts.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    prior: float = Field(0.5, ge=0.0, le=1.0, description="Reputation of a seller with no reports yet.")
    alpha: float = Field(0.2, ge=0.0, le=1.0, description="Weight of the newest report in the moving average.")
    weight: float = Field(0.0, ge=0.0, le=100.0, description="How much low reputation inflates a listing's rank price.")


class OutcomePayment(BaseModel):
    """The intermediary's rule: what share of the escrowed price the seller gets for an outcome.

    ``share = base_share + (1 - base_share) * S`` with
    ``S = (1 - claim_weight) * outcome + claim_weight * (1 - (claim - outcome) ** 2)``:
    an outcome term that pays for quality and a quadratic (Brier) score of the seller's
    claimed quality against the outcome, which is proper: for a given quality, the claim
    that maximises the expected score is the true expected outcome. What is not paid out
    is refunded to the buyer. ``report_bonus`` is paid to a buyer whose report is scored
    against a verification draw, with the same quadratic score.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = Field(False, description="Pay sellers by outcome (else the full price on settlement).")
    base_share: float = Field(0.5, ge=0.0, le=1.0, description="Share of the price paid whatever the outcome.")
    claim_weight: float = Field(0.0, ge=0.0, le=1.0, description="Weight of the proper score of the claimed quality.")
    report_bonus: float = Field(
        0.0, ge=0.0, le=1_000.0, description="Most a buyer earns for a report that matches the verification draw."
    )


def _finite(name: str, value: float) -> float:
    if not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value}")
    return value


class IncentivePolicy(BaseModel):
    """Fees, taxes, subsidies, fines, rewards, reputation and the outcome payment rule."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    fee_rate: float = Field(
        0.02, ge=0.0, le=1.0, description="Share of each settled price paid by the seller as a fee."
    )
    fee_fixed: float = Field(0.0, ge=0.0, le=1_000.0, description="Fixed fee per settled trade, paid by the seller.")
    tax_rate: float = Field(
        0.0, ge=0.0, le=1.0, description="Share of each settled price the seller pays as tax (burnt)."
    )
    subsidy: float = Field(0.0, ge=0.0, le=1_000.0, description="Amount minted to the seller for each settled trade.")
    outcome_reward: float = Field(
        0.0, ge=0.0, le=1_000.0, description="Amount minted to the seller per settled trade, times its outcome score."
    )
    fines: dict[str, float] = Field(
        default_factory=lambda: dict(DEFAULT_FINES),
        description="Fine in currency units charged when an action is rejected by this rule.",
    )
    reputation: ReputationRule = Field(default_factory=ReputationRule)
    outcome_payment: OutcomePayment = Field(default_factory=OutcomePayment)

    @field_validator("fee_rate", "fee_fixed", "tax_rate", "subsidy", "outcome_reward")
    @classmethod
    def _finite_amounts(cls, value: float) -> float:
        return _finite("amount", value)

    @field_validator("fines")
    @classmethod
    def _known_rules_and_amounts(cls, fines: dict[str, float]) -> dict[str, float]:
        known = {r.value for r in Rule if r is not Rule.OK}
        for rule, amount in fines.items():
            if rule not in known:
                raise ValueError(f"unknown rule '{rule}'; fines may name: {', '.join(sorted(known))}")
            if not math.isfinite(amount) or amount < 0:
                raise ValueError(f"fine for '{rule}' must be a finite amount >= 0, got {amount}")
        return fines

    def fine_for(self, rule: str) -> float:
        """The fine in currency units for a rejection by ``rule`` (0 when none is set)."""
        return self.fines.get(rule, 0.0)

    def with_changes(self, changes: Mapping[str, Any]) -> IncentivePolicy:
        """A new, validated policy with ``changes`` applied; nested sections merge field by field.

        ``fines`` is replaced as a whole when given (so a rule can be un-fined by leaving it out).
        """
        merged = _merge(self.model_dump(), dict(changes))
        return IncentivePolicy.model_validate(merged)


def _merge(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in changes.items():
        if key != "fines" and isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], dict(value))
        else:
            out[key] = value
    return out


def policy_diff(old: IncentivePolicy, new: IncentivePolicy) -> dict[str, Any]:
    """The fields that differ, as dotted names mapped to ``[old, new]``."""

    def flat(d: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
        out: dict[str, Any] = {}
        for k, v in d.items():
            if isinstance(v, Mapping) and k != "fines":
                out.update(flat(v, f"{prefix}{k}."))
            else:
                out[f"{prefix}{k}"] = v
        return out

    a, b = flat(old.model_dump()), flat(new.model_dump())
    return {k: [a.get(k), b.get(k)] for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)}
