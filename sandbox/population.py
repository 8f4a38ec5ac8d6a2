"""Populations: how many agents of which type, and the private information each one draws.

A ``PopulationSpec`` is what a scenario file's ``population`` entry and ``Session.spawn``
share. Values and costs are a number or a ``[low, high]`` range drawn uniformly with a
generator derived from the session seed and the population's position, so a population
always draws the same agents for the same seed.
"""

from __future__ import annotations

import math
import random
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from agents.observation import Private
from agents.registry import resolve
from protocols.money import to_micros
from sandbox.limits import MAX_AGENTS, MAX_MONEY, MAX_UNITS, check_printable, unknown_params

Amount = float | tuple[float, float]
Seed = Annotated[int, Field(ge=-(2**63), le=2**63 - 1)]
"""A seed fits a signed 64-bit integer (the store keeps it in one)."""


class PopulationSpec(BaseModel):
    """A group of agents of one type and role."""

    model_config = ConfigDict(extra="forbid")

    agent: str = Field(
        description="Agent type, e.g. zi_c, zi_u, markup_seller, budget_buyer, or a dotted path mypkg.mod:MyAgent."
    )
    n: int = Field(ge=1, le=MAX_AGENTS, description="How many agents.")
    role: str = Field(description="'buyer' or 'seller'.")
    budget: float = Field(0.0, ge=0, le=MAX_MONEY, description="Starting money of each agent, in currency units.")
    service: str = Field("service", min_length=1, max_length=100, description="The service these agents buy or sell.")
    value: Amount | None = Field(None, description="Buyers: value per unit, a number or [low, high].")
    cost: Amount | None = Field(None, description="Sellers: cost per unit, a number or [low, high].")
    demand: int = Field(1, ge=0, le=MAX_UNITS, description="Buyers: units wanted.")
    capacity: int = Field(0, ge=0, le=MAX_UNITS, description="Sellers: units they can deliver.")
    schedule: list[float] | None = Field(
        None,
        max_length=10_000,
        description="Per-unit values (buyers) or costs (sellers); replaces value/cost and sets demand/capacity.",
    )
    quality: Amount | None = Field(
        None, description="Sellers: true quality in [0, 1] of what they deliver, or [low, high]."
    )
    params: dict[str, Any] = Field(default_factory=dict, description="Parameters of the agent type.")
    seed: Seed | None = Field(None, description="Salt for this population's draws (default: its position).")

    @field_validator("agent")
    @classmethod
    def _known_agent(cls, kind: str) -> str:
        resolve(kind)  # a registered kind or a dotted path to an Agent subclass; else one sentence
        return kind

    @field_validator("service")
    @classmethod
    def _printable_service(cls, service: str) -> str:
        return check_printable(service, "a service name")

    @field_validator("role")
    @classmethod
    def _known_role(cls, role: str) -> str:
        if role not in ("buyer", "seller"):
            raise ValueError(f"role must be 'buyer' or 'seller', got '{role}'")
        return role

    @field_validator("budget")
    @classmethod
    def _finite_budget(cls, budget: float) -> float:
        if not math.isfinite(budget):
            raise ValueError("budget must be a finite number")
        return budget

    @field_validator("value", "cost")
    @classmethod
    def _amount(cls, v: Amount | None) -> Amount | None:
        if v is None:
            return v
        lo, hi = (v, v) if isinstance(v, (int, float)) else v
        if not (math.isfinite(lo) and math.isfinite(hi)) or lo < 0 or hi < lo or hi > MAX_MONEY:
            raise ValueError(
                f"must be a number >= 0 or a range [low, high] with 0 <= low <= high <= {MAX_MONEY:.0e}, got {v}"
            )
        return v

    @field_validator("schedule")
    @classmethod
    def _schedule(cls, v: list[float] | None) -> list[float] | None:
        if v is not None and (not v or any(not math.isfinite(x) or x < 0 or x > MAX_MONEY for x in v)):
            raise ValueError(f"a schedule is a non-empty list of numbers from 0 to {MAX_MONEY:.0e}")
        return v

    @field_validator("quality")
    @classmethod
    def _quality(cls, v: Amount | None) -> Amount | None:
        lo, hi = (v, v) if isinstance(v, (int, float)) or v is None else v
        if v is not None and not (0.0 <= lo <= hi <= 1.0):  # type: ignore[operator]
            raise ValueError(f"quality must be in [0, 1] (a number or [low, high]), got {v}")
        return v

    @model_validator(mode="after")
    def _role_needs(self) -> PopulationSpec:
        if self.schedule is not None:  # a schedule fixes the units and their values or costs
            if self.role == "buyer":
                self.value, self.demand = max(self.schedule), len(self.schedule)
            else:
                self.cost, self.capacity = min(self.schedule), len(self.schedule)
        if self.role == "buyer" and self.value is None:
            raise ValueError("buyers need a 'value' (a number or [low, high])")
        if self.role == "seller" and self.cost is None:
            raise ValueError("sellers need a 'cost' (a number or [low, high])")
        if self.role == "seller" and self.capacity < 1:
            raise ValueError("sellers need a 'capacity' of at least 1")
        bad = unknown_params(resolve(self.agent), self.params)
        if bad:
            raise ValueError(bad)
        return self

    @property
    def units(self) -> int:
        """Units the whole group wants or offers (agents times demand or capacity)."""
        return self.n * (self.demand if self.role == "buyer" else self.capacity)


def check_populations(specs: list[PopulationSpec]) -> None:
    """Refuse populations too large to hold in memory, in one sentence (``ValueError``)."""
    agents = sum(s.n for s in specs)
    if agents > MAX_AGENTS:
        raise ValueError(f"the population has {agents:,} agents in all; at most {MAX_AGENTS:,} are allowed")
    units = sum(s.units for s in specs)
    if units > 10 * MAX_UNITS:
        raise ValueError(
            f"the population wants or offers {units:,} units in all (agents x demand or capacity); "
            f"at most {10 * MAX_UNITS:,} are allowed"
        )


def _draw(rng: random.Random, amount: Amount) -> float:
    if isinstance(amount, (int, float)):
        return float(amount)
    lo, hi = amount
    return round(rng.uniform(lo, hi), 2)


def draw_members(spec: PopulationSpec, session_seed: int, position: int) -> list[tuple[Private, int]]:
    """Private information and endowment (micro-units) for each agent of ``spec``."""
    salt = spec.seed if spec.seed is not None else position
    rng = random.Random(f"{session_seed}/population/{salt}")
    out = []
    for _ in range(spec.n):
        if spec.schedule is not None:
            units = sorted(spec.schedule, reverse=spec.role == "buyer")  # best units trade first
            if spec.role == "buyer":
                private = Private(values={spec.service: units[0]}, demand=len(units), schedule={spec.service: units})
            else:
                private = Private(costs={spec.service: units[0]}, capacity=len(units), schedule={spec.service: units})
        elif spec.role == "buyer":
            assert spec.value is not None
            private = Private(values={spec.service: _draw(rng, spec.value)}, demand=spec.demand)
        else:
            assert spec.cost is not None
            private = Private(costs={spec.service: _draw(rng, spec.cost)}, capacity=spec.capacity)
        if spec.quality is not None and spec.role == "seller":
            private.quality = _draw(rng, spec.quality)
        out.append((private, to_micros(spec.budget)))
    return out
