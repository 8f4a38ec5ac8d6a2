"""Scenario files: a population, the market's bounds, the policy and the number of rounds.

``load_scenario`` accepts a YAML path or a built-in name (``services``) and turns every
mistake into one line naming the file, the field and what is allowed.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from protocols.constraints import ProtocolConfig
from protocols.dialogue import Deadlines
from protocols.policy import IncentivePolicy
from protocols.safety import SafetyConfig
from sandbox.limits import MAX_MONEY, MAX_UNITS, check_printable
from sandbox.mechanisms.registry import MechanismSpecField
from sandbox.mechanisms.spec import BilateralSpec
from sandbox.population import PopulationSpec, Seed, check_populations


class ScenarioError(ValueError):
    """A scenario file is wrong; the message has one line per mistake."""


class MarketSpec(BaseModel):
    """The market's bounds and clocks."""

    model_config = ConfigDict(extra="forbid")

    min_price: float = Field(0.01, gt=0, le=MAX_MONEY, description="Lowest price allowed.")
    max_price: float = Field(1000.0, gt=0, le=MAX_MONEY, description="Highest price allowed.")
    max_capacity: int = Field(100, ge=1, le=MAX_UNITS, description="Most units one listing may offer.")
    max_message_chars: int = Field(1000, ge=1, le=100_000, description="Longest message allowed.")
    max_actions_per_round: int = Field(
        10, ge=1, le=10_000, description="Actions per agent per round; more are rejected."
    )
    flood_rows: int = Field(
        20,
        ge=0,
        le=10_000,
        description="Actions past max_actions_per_round recorded one by one; the rest of an agent's round is one row.",
    )
    offer_rounds: int = Field(3, ge=1, le=1_000_000, description="Rounds of silence before an open thread expires.")
    delivery_rounds: int = Field(3, ge=1, le=1_000_000, description="Rounds a seller has to deliver after acceptance.")
    report_rounds: int = Field(
        3, ge=1, le=1_000_000, description="Rounds a buyer has to report before auto-settlement."
    )

    max_substeps: int = Field(
        0,
        ge=0,
        le=20,
        description="Sub-steps per round after the first step, in which only agents addressed by new events act "
        "(an offer to answer, a deal step awaiting them, a message), so a negotiation can advance several "
        "moves in one round; 0 keeps one step per round.",
    )

    @model_validator(mode="after")
    def _price_range(self) -> MarketSpec:
        if self.min_price > self.max_price:
            raise ValueError(f"min_price ({self.min_price}) must not be above max_price ({self.max_price})")
        return self

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

    name: str = Field("custom", min_length=1, description="Name shown in the record (printable, 100 characters).")
    description: str = Field("", description="What the scenario is about (printable, 10,000 characters).")
    seed: Seed = Field(0, description="Seed of every random draw in the run (a signed 64-bit integer).")
    rounds: int = Field(30, ge=1, le=1_000_000, description="Number of rounds.")
    market: MarketSpec = Field(default_factory=MarketSpec)
    policy: IncentivePolicy = Field(default_factory=IncentivePolicy)
    population: list[PopulationSpec] = Field(
        default_factory=list, max_length=10_000, description="Groups of agents (100,000 agents in all at most)."
    )
    mechanism: MechanismSpecField = Field(
        default_factory=BilateralSpec, description="The market mechanism (docs/mechanisms.md)."
    )
    safety: SafetyConfig = Field(default_factory=SafetyConfig, description="The safety layer (docs/safety.md).")

    @field_validator("name")
    @classmethod
    def _printable_name(cls, name: str) -> str:
        return check_printable(name, "a scenario name")

    @field_validator("description")
    @classmethod
    def _printable_description(cls, text: str) -> str:
        return check_printable(text, "the description", max_len=10_000, newlines=True)

    @model_validator(mode="after")
    def _population_size(self) -> Scenario:
        check_populations(self.population)
        return self


BUILTIN = resources.files("sandbox") / "scenarios"


def builtin_names() -> list[str]:
    """Names of the scenarios that ship with Agora."""
    return sorted(p.name[:-5] for p in BUILTIN.iterdir() if p.name.endswith(".yaml"))


def _where(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _short(value: Any) -> str:
    text = repr(value)  # repr escapes control characters, so the message stays one line
    return text if len(text) <= 80 else f"{text[:60]}... ({len(text):,} characters)"


MAX_FILE_BYTES = 10_000_000
MAX_NODES = 1_000_000


def _count_nodes(data: Any, limit: int) -> int:
    """Nodes in ``data``, counting a shared (aliased) node each time it is reached; stops past ``limit``."""
    seen, stack = 0, [data]
    while stack and seen <= limit:
        item = stack.pop()
        seen += 1
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, (list, tuple)):
            stack.extend(item)
    return seen


def explain(source: str, err: ValidationError) -> ScenarioError:
    """A ``ScenarioError`` with one line per mistake in ``err``, each naming ``source`` and the field."""
    lines = []
    for e in err.errors():
        msg = e["msg"].removeprefix("Value error, ")
        got = (
            f" (got {_short(e['input'])})"
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
    if _count_nodes(data, MAX_NODES) > MAX_NODES:  # YAML aliases can make a small file expand enormously
        raise ScenarioError(
            f"{source}: the scenario has more than {MAX_NODES:,} values (aliases counted); make it smaller"
        )
    try:
        return Scenario.model_validate(data)
    except ValidationError as err:
        raise explain(source, err) from None
    except RecursionError:
        raise ScenarioError(f"{source}: the scenario is nested too deeply; flatten it") from None


def load_scenario(path_or_name: str | Path) -> Scenario:
    """Load a scenario from a YAML file, or a built-in one by name."""
    text: str
    source = str(path_or_name)
    path = Path(path_or_name)
    if path.suffix in (".yaml", ".yml") or path.exists():
        try:
            if path.stat().st_size > MAX_FILE_BYTES:
                raise ScenarioError(
                    f"{source}: the file is larger than {MAX_FILE_BYTES:,} bytes; a scenario is smaller"
                )
            text = path.read_text()
        except OSError as err:
            raise ScenarioError(f"{source}: cannot read the file ({err.strerror})") from None
        except UnicodeDecodeError:
            raise ScenarioError(f"{source}: the file is not UTF-8 text") from None
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
        problem = " ".join(str(getattr(err, "problem", None) or err).split())
        raise ScenarioError(f"{source}: not valid YAML{where}: {problem}") from None
    except RecursionError:
        raise ScenarioError(f"{source}: the YAML is nested too deeply; flatten it") from None
    return parse_scenario(data, source)
