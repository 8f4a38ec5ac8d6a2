"""The world and the run: ledger, market, sessions, populations, scenarios, the command line.

The only package where state changes; it applies protocol verdicts and writes the record.
``sandbox.replay`` is the replay package (``from sandbox.replay import replay`` for the function);
``fork``, ``resume`` and the async forms are re-exported here.
"""

from sandbox.ledger import Ledger, LedgerError
from sandbox.replay import afork, areplay, aresume, fork, resume
from sandbox.scenario import Scenario, ScenarioError, load_scenario
from sandbox.session import RunResult, Session

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
    "resume",
]
