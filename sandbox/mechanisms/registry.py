"""The mechanism registry: one ``Mechanism`` entry per market mechanism, everything else derived.

An entry joins, by name, the pure record of ``protocols.mechanism_table`` (actions per role,
the mechanism's checks, its instructions for LLM agents) with the sandbox half: the spec
model of the scenario's ``mechanism:`` section and the live market class. From the entries
come the scenario schema (``MechanismSpecField``), ``build_market``, the protocol's mechanism
checks and the LLM tools (through the record), and the mechanism's extra round metrics.

Adding a mechanism is one module plus one call::

    register_mechanism(mechanism_rules("toy", ...), ToySpec, ToyMarket, metrics=("toy_figure",))
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Annotated, Any

from pydantic import BaseModel, PlainValidator, SerializeAsAny

from protocols.dialogue import Deadlines
from protocols.mechanism_table import MechanismRules, register_rules, unregister_rules
from protocols.policy import IncentivePolicy
from sandbox.ledger import Ledger
from sandbox.market import MarketBase
from sandbox.metrics import add_fact_metric, remove_fact_metric


@dataclass(frozen=True)
class Mechanism:
    """One registered mechanism: its protocol record, scenario spec model, market class and metrics."""

    rules: MechanismRules
    spec: type[BaseModel]
    """The model of the scenario's ``mechanism:`` section; its ``kind`` field defaults to the name."""
    market: type[MarketBase]
    """The live market; ``market.from_spec`` builds it from a validated spec."""
    metrics: tuple[str, ...] = ()
    """Round facts (``market.round_facts()``) reported as round metrics (None in other mechanisms)."""

    @property
    def name(self) -> str:
        """The mechanism's name: the spec's ``kind`` and the market's ``mechanism``."""
        return self.rules.name

    @property
    def actions(self) -> Mapping[str, frozenset[str]]:
        """The action types each role may send."""
        return self.rules.actions

    @property
    def checks(self) -> tuple[Any, ...]:
        """The mechanism's own protocol checks."""
        return self.rules.checks

    @property
    def instructions(self) -> str:
        """What LLM agents are told about this market."""
        return self.rules.instructions


_REGISTRY: dict[str, Mechanism] = {}
MECHANISMS: Mapping[str, Mechanism] = MappingProxyType(_REGISTRY)
"""Every registered mechanism by name, in registration order."""


def register_mechanism(
    rules: MechanismRules, spec: type[BaseModel], market: type[MarketBase], *, metrics: tuple[str, ...] = ()
) -> Mechanism:
    """Register a mechanism (or replace one of the same name): its record, spec model and market class.

    The three are joined by name: the spec's ``kind`` must default to ``rules.name`` and the
    market's ``mechanism`` must equal it.
    """
    kind = spec.model_fields.get("kind")
    if kind is None or kind.default != rules.name:
        raise ValueError(f"the spec model of mechanism '{rules.name}' needs a field kind defaulting to '{rules.name}'")
    if market.mechanism != rules.name:
        raise ValueError(f"market class {market.__name__} has mechanism '{market.mechanism}', not '{rules.name}'")
    entry = Mechanism(register_rules(rules), spec, market, tuple(metrics))
    _REGISTRY[rules.name] = entry
    for name in entry.metrics:
        add_fact_metric(name)
    return entry


def unregister_mechanism(name: str) -> None:
    """Remove a mechanism, its record and the metrics only it declared (tests clean up with this)."""
    entry = _REGISTRY.pop(name, None)
    unregister_rules(name)
    if entry is not None:
        still = {m for e in _REGISTRY.values() for m in e.metrics}
        for metric in entry.metrics:
            if metric not in still:
                remove_fact_metric(metric)


def known() -> str:
    """The registered names, for messages."""
    return ", ".join(_REGISTRY)


def parse_spec(value: Any) -> BaseModel:
    """A scenario's ``mechanism:`` section as the spec model its ``kind`` names (errors name the field)."""
    if isinstance(value, BaseModel):
        entry = _REGISTRY.get(str(getattr(value, "kind", "")))
        if entry is not None and isinstance(value, entry.spec):
            return value
        value = value.model_dump()
    if not isinstance(value, Mapping):
        raise ValueError(f"the mechanism section must be a mapping with a kind ({known()})")
    kind = value.get("kind")
    if kind is None:
        raise ValueError(f"the mechanism section needs a kind ({known()})")
    entry = _REGISTRY.get(kind) if isinstance(kind, str) else None
    if entry is None:
        raise ValueError(f"unknown mechanism kind {kind!r}; known kinds: {known()}")
    return entry.spec.model_validate(value)


MechanismSpecField = Annotated[SerializeAsAny[BaseModel], PlainValidator(parse_spec)]
"""The type of ``Scenario.mechanism``: any registered mechanism's spec, chosen by ``kind``."""


def build_market(
    spec: BaseModel | None,
    ledger: Ledger,
    deadlines: Deadlines,
    *,
    seed: int = 0,
    rounds: int = 1,
    policy: IncentivePolicy | None = None,
) -> MarketBase:
    """The live market for a scenario's mechanism section (bilateral when None)."""
    policy = policy or IncentivePolicy()
    name = "bilateral" if spec is None else str(getattr(spec, "kind", ""))
    entry = _REGISTRY.get(name)
    if entry is None:
        raise ValueError(f"unknown mechanism {spec!r}; known kinds: {known()}")
    if spec is None:
        spec = entry.spec()
    market = entry.market.from_spec(spec, ledger, deadlines, seed=seed, rounds=rounds, policy=policy)
    market.policy = policy
    return market
