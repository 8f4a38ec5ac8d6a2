"""Who decides: the ``Agent`` interface, scripted baselines and (later) LLM agents.

Agents see only an ``Observation`` and return actions; they never touch the ledger or store.
"""

from agents.base import Agent, DryRun
from agents.llm import LLMAgent
from agents.observation import Observation, ObservationLimits, Private
from agents.registry import AGENT_TYPES, catalogue, register, resolve
from agents.scripted import ZIC, ZIU, BudgetBuyer, MarkupSeller

__all__ = [
    "AGENT_TYPES",
    "Agent",
    "BudgetBuyer",
    "DryRun",
    "LLMAgent",
    "MarkupSeller",
    "Observation",
    "ObservationLimits",
    "Private",
    "ZIC",
    "ZIU",
    "catalogue",
    "register",
    "resolve",
]
