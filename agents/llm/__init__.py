"""LLM agents: a LangGraph loop over litellm, with an offline stand-in model and its HTTP server.

Importing this package is cheap: litellm and langgraph load on the first turn or when the
stand-in is used (``ScriptedStandIn``, ``register_stand_in``, ``Faults``, ``ModelServer``).
"""

from typing import Any

from agents.llm.agent import DEFAULT_MODEL, LLMAgent
from agents.llm.budget import CallPool, Limits, Spend
from agents.llm.personas import PERSONAS, Persona, catalogue, persona

_LAZY = {
    "ScriptedStandIn": "agents.llm.scripted_model",
    "register_stand_in": "agents.llm.scripted_model",
    "Faults": "agents.llm.scripted_model",
    "ModelServer": "agents.llm.model_server",
    "ServerFaults": "agents.llm.model_server",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'agents.llm' has no attribute '{name}'")


__all__ = [
    "DEFAULT_MODEL",
    "PERSONAS",
    "CallPool",
    "Faults",
    "LLMAgent",
    "Limits",
    "ModelServer",
    "Persona",
    "ScriptedStandIn",
    "ServerFaults",
    "Spend",
    "catalogue",
    "persona",
    "register_stand_in",
]
