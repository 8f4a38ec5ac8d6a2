"""Agent types by name, for scenario files and the command line."""

from __future__ import annotations

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


def resolve(kind: str | type[Agent]) -> type[Agent]:
    """The agent class for a name (or the class itself); a clear error for unknown names."""
    if isinstance(kind, type):
        return kind
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
