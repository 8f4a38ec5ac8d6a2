"""The incentive policy: the levers humans tune (fees and fines in this first form)."""

from __future__ import annotations

import math

from pydantic import BaseModel, ConfigDict, Field, field_validator

from protocols.verdict import Rule

DEFAULT_FINES: dict[str, float] = {
    Rule.IMPERSONATION.value: 5.0,
    Rule.SELF_TRADE.value: 2.0,
    Rule.FUNDS.value: 0.5,
}


class IncentivePolicy(BaseModel):
    """Fees charged on trades and fines charged for rejected actions, by rule."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    fee_rate: float = Field(
        0.02, ge=0.0, le=1.0, description="Share of each settled price paid by the seller as a fee."
    )
    fines: dict[str, float] = Field(
        default_factory=lambda: dict(DEFAULT_FINES),
        description="Fine in currency units charged when an action is rejected by this rule.",
    )

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
