"""The world and the run: ledger, market, sessions, populations, scenarios, the command line.

The only package where state changes; it applies protocol verdicts and writes the record.
"""

import os

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from sandbox.ledger import Ledger, LedgerError  # noqa: E402
from sandbox.replay import afork, areplay, aresume, fork, replay, resume  # noqa: E402  (replay is also the module sandbox.replay)
from sandbox.scenario import Scenario, ScenarioError, load_scenario  # noqa: E402
from sandbox.session import RunResult, Session  # noqa: E402

__all__ = [
    "Ledger",
    "LedgerError",
    "RunResult",
    "Scenario",
    "ScenarioError",
    "Session",
    "afork",
    "areplay",
    "aresume",
    "fork",
    "load_scenario",
    "replay",
    "resume",
]
