"""Agent types by name, for scenario files and the command line.

A scenario names a registered type by its ``kind`` (``zi_c``) or any ``Agent`` subclass by
dotted path (``mypkg.mod:MyAgent``), imported when the scenario is read.
"""

from __future__ import annotations

import importlib

from agents.base import Agent
from agents.llm.agent import LLMAgent
from agents.posted_traders import POSTED_TRADERS
from agents.pricers import PRICERS
from agents.responders import RESPONDERS
from agents.scripted import ZIC, ZIU, BudgetBuyer, MarkupSeller
from agents.traders import TRADERS

AGENT_TYPES: dict[str, type[Agent]] = {}


def register(cls: type[Agent]) -> type[Agent]:
    """Make an agent class available to scenarios under its ``kind``."""
    AGENT_TYPES[cls.kind] = cls
    return cls


for _cls in (ZIU, ZIC, MarkupSeller, BudgetBuyer, LLMAgent, *PRICERS, *TRADERS, *POSTED_TRADERS, *RESPONDERS):
    register(_cls)


def load_dotted(path: str) -> type[Agent]:
    """The ``Agent`` subclass at ``package.module:ClassName``; one sentence (ValueError) when it cannot be used."""
    module_name, _, attr = path.partition(":")
    if not module_name.strip() or not attr.strip():
        raise ValueError(f"agent type '{path}' is not of the form package.module:ClassName")
    try:
        module = importlib.import_module(module_name)
    except Exception as err:  # noqa: BLE001  (whatever the module raises, the scenario gets one sentence)
        why = " ".join(f"{type(err).__name__}: {err}".split())[:200]
        raise ValueError(f"agent type '{path}': module '{module_name}' does not import ({why})") from None
    obj: object = module
    for part in attr.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            raise ValueError(f"agent type '{path}': module '{module_name}' has no attribute '{attr}'")
    if not isinstance(obj, type) or not issubclass(obj, Agent) or obj is Agent:
        raise ValueError(f"agent type '{path}' is not a subclass of agents.base.Agent")
    return obj


def resolve(kind: str | type[Agent]) -> type[Agent]:
    """The agent class for a name, a dotted path ``mod:Class`` (or the class itself); a clear error otherwise."""
    if isinstance(kind, type):
        return kind
    if ":" in kind:
        return load_dotted(kind)
    try:
        return AGENT_TYPES[kind]
    except KeyError:
        raise ValueError(f"unknown agent type '{kind}'; known types: {', '.join(sorted(AGENT_TYPES))}") from None


def catalogue() -> dict[str, str]:
    """Every registered agent type with its one-line description."""
    return {k: c.description for k, c in sorted(AGENT_TYPES.items())}


from agents.redteam import RED_TEAM  # noqa: E402  (red-team test doubles, see docs/safety.md)

for _cls in RED_TEAM:
    register(_cls)
