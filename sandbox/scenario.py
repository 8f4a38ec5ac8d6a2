"""Scenario files: a population, the market's bounds, the policy and the number of rounds.

``load_scenario`` accepts a YAML path or a built-in name (``services``) and turns every
mistake into one line naming the file, the field and what is allowed.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from protocols.constraints import ProtocolConfig
from protocols.dialogue import Deadlines
from protocols.policy import IncentivePolicy
from protocols.safety import SafetyConfig
from sandbox.mechanisms.spec import BilateralSpec, MechanismSpec
from sandbox.population import PopulationSpec


class ScenarioError(ValueError):
    """A scenario file is wrong; the message has one line per mistake."""


class MarketSpec(BaseModel):
    """The market's bounds and clocks."""

    model_config = ConfigDict(extra="forbid")

    min_price: float = Field(0.01, gt=0, description="Lowest price allowed.")
    max_price: float = Field(1000.0, gt=0, description="Highest price allowed.")
    max_capacity: int = Field(100, ge=1, description="Most units one listing may offer.")
    max_message_chars: int = Field(1000, ge=1, description="Longest message allowed.")
    max_actions_per_round: int = Field(10, ge=1, description="Actions per agent per round; more are rejected.")
    offer_rounds: int = Field(3, ge=1, description="Rounds of silence before an open thread expires.")
    delivery_rounds: int = Field(3, ge=1, description="Rounds a seller has to deliver after acceptance.")
    report_rounds: int = Field(3, ge=1, description="Rounds a buyer has to report before auto-settlement.")
    max_substeps: int = Field(
        0,
        ge=0,
        le=20,
        description="Sub-steps per round after the first step, in which only agents addressed by new events act "
        "(an offer to answer, a deal step awaiting them, a message), so a negotiation can advance several "
        "moves in one round; 0 keeps one step per round.",
    )

    def protocol_config(self) -> ProtocolConfig:
        """The protocol settings these bounds imply."""
        return ProtocolConfig(
            min_price=self.min_price,
            max_price=self.max_price,
            max_capacity=self.max_capacity,
            max_message_chars=self.max_message_chars,
            deadlines=Deadlines(self.offer_rounds, self.delivery_rounds, self.report_rounds),
        )


class Scenario(BaseModel):
    """Everything needed to run (and re-run) a market."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field("custom", description="Name shown in the record.")
    description: str = ""
    seed: int = Field(0, description="Seed of every random draw in the run.")
    rounds: int = Field(30, ge=1, le=1_000_000, description="Number of rounds.")
    market: MarketSpec = Field(default_factory=MarketSpec)
    policy: IncentivePolicy = Field(default_factory=IncentivePolicy)
    population: list[PopulationSpec] = Field(default_factory=list, description="Groups of agents.")
    mechanism: MechanismSpec = Field(
        default_factory=BilateralSpec, description="The market mechanism (docs/mechanisms.md)."
    )
    safety: SafetyConfig = Field(default_factory=SafetyConfig, description="The safety layer (docs/safety.md).")


BUILTIN = resources.files("sandbox") / "scenarios"


def builtin_names() -> list[str]:
    """Names of the scenarios that ship with Agora."""
    return sorted(p.name[:-5] for p in BUILTIN.iterdir() if p.name.endswith(".yaml"))


def _where(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _explain(source: str, err: ValidationError) -> ScenarioError:
    lines = []
    for e in err.errors():
        msg = e["msg"].removeprefix("Value error, ")
        got = (
            f" (got {e['input']!r})"
            if e["type"] not in ("missing", "extra_forbidden") and not isinstance(e["input"], (dict, list))
            else ""
        )
        if e["type"] == "extra_forbidden":
            msg = "is not a field here; check the spelling"
        lines.append(f"{source}: {_where(e['loc'])}: {msg}{got}")
    return ScenarioError("\n".join(lines))


def parse_scenario(data: Any, source: str = "scenario") -> Scenario:
    """Validate a scenario given as a dict."""
    if not isinstance(data, dict):
        raise ScenarioError(f"{source}: a scenario must be a mapping of fields (name, rounds, population, ...)")
    try:
        return Scenario.model_validate(data)
    except ValidationError as err:
        raise _explain(source, err) from None


def load_scenario(path_or_name: str | Path) -> Scenario:
    """Load a scenario from a YAML file, or a built-in one by name."""
    text: str
    source = str(path_or_name)
    path = Path(path_or_name)
    if path.suffix in (".yaml", ".yml") or path.exists():
        try:
            text = path.read_text()
        except OSError as err:
            raise ScenarioError(f"{source}: cannot read the file ({err.strerror})") from None
    elif source in builtin_names():
        text = (BUILTIN / f"{source}.yaml").read_text()
        source = f"{source}.yaml (built in)"
    else:
        raise ScenarioError(f"{source}: no such file, and not a built-in scenario ({', '.join(builtin_names())})")
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ScenarioError(f"{source}: not valid YAML{where}: {getattr(err, 'problem', err)}") from None
    return parse_scenario(data, source)
