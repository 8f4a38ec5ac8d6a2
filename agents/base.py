"""The ``Agent`` interface: a name, and ``decide(observation) -> actions``.

Agents never touch the ledger or the store. The session gives each agent a ``random.Random``
re-seeded every round from (session seed, agent id, round), so an agent's choices in a round
depend only on what it observes and on that key: runs can be replayed, resumed and forked
from any round without saving generator state.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

from agents.observation import Observation
from agents.wake import EVERY_ROUND, WakeRule, WakeState, wake_reason, wake_rule
from protocols.actions import ActionBase
from protocols.verdict import Verdict

DryRun = Callable[[ActionBase], Verdict]
"""Checks a draft action against the protocol on the round-start view; changes nothing."""


class Agent:
    """Base class for every agent. Subclasses override ``decide`` (or ``adecide`` if async)."""

    kind: ClassVar[str] = "agent"
    description: ClassVar[str] = ""
    is_async: ClassVar[bool] = False
    on_demand_observation: ClassVar[bool] = False
    """True: the agent reads its observation only during its turn (``wants_turn``, ``decide``), so the
    session may hand it one whose parts are made when first read (``sandbox.observe.Observer.view``;
    the same values, and an agent pays for what it reads). A part first read after the round's actions
    applied raises ``RuntimeError``; serialising it, copying it or comparing it first makes every part."""
    plain_view: ClassVar[bool] = False
    """True: ``decide`` reads only an ``agents.plain_view.PlainView`` (its price band, values or costs, units,
    balance and incentive terms), so when its turn needs no wake check the session hands it the engine's
    plain view of its member instead of an observation; it must also accept an ``Observation``
    (``plain_view_of``), which it gets otherwise."""
    trader_view: ClassVar[bool] = False
    """True: ``decide`` reads only an ``agents.trader_view.TraderView`` (a negotiating trader's id, price band,
    values or costs, units, balance, incentive terms, shown listings and threads), so when its turn needs no
    wake check the session hands it the engine's trader view of its member instead of an observation; it must
    also accept an ``Observation`` (``trader_view_of``), which it gets otherwise. A subclass whose ``decide``
    reads more of the observation sets it back to False."""
    draws_every_turn: ClassVar[bool] = False
    """True: ``decide`` draws from ``self.rng`` on nearly every turn, so the session seeds the generator
    at the turn's start instead of when it is first used (``sandbox.seeding``); the draws are the same
    either way, only the cost differs."""
    wake_default: ClassVar[WakeRule] = EVERY_ROUND
    # parameters every agent takes (sandbox.limits refuses others it cannot find): its wake rule, and the
    # ground-truth label a labelled benchmark may attach (benchmarks/bench_detectors.py)
    known_params: ClassVar[tuple[str, ...]] = ("wake", "truth")
    """When the agent wants a turn (``agents.wake``): every round unless a subclass or the ``wake`` parameter opts in."""

    def __init__(self, agent_id: str, role: str, rng: random.Random | None = None, **params: Any) -> None:
        self.id = agent_id
        self.role = role
        self.rng = rng or random.Random(agent_id)
        self.params = params
        self.scope = ""  # the run the agent trades in; the session sets it
        self.shared: dict[str, Any] = {}  # one dict for all agents of a session (LLM agents' call pools)
        self.wake = wake_rule(params.get("wake"), self.wake_default)
        self.wake_state = WakeState()

    @property
    def name(self) -> str:
        """The agent's name in the market (its id)."""
        return self.id

    def wants_turn(self, obs: Observation, substep: bool = False) -> tuple[bool, str]:
        """Whether to call the agent on ``obs`` and why, or why it waits; no model call (``agents.wake``)."""
        return wake_reason(self.wake, self.wake_state, obs, substep=substep)

    def decide(self, obs: Observation) -> Sequence[ActionBase]:
        """Return this round's actions for ``obs``."""
        raise NotImplementedError

    async def adecide(self, obs: Observation, check: DryRun) -> Sequence[ActionBase]:
        """Async form used by the session; scripted agents need not override it."""
        return self.decide(obs)

    def describe(self) -> dict[str, Any]:
        """What the record keeps about this agent (type and parameters)."""
        return {"kind": self.kind, **{k: v for k, v in self.params.items() if _plain(v)}}


def _plain(value: Any) -> bool:
    return isinstance(value, (str, int, float, bool, type(None)))
