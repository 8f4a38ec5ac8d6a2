"""``LLMAgent``: an agent whose turn is a LangGraph loop over any model litellm reaches.

    session.spawn(LLMAgent, n=50, role="buyer", model="openai/gpt-4o-mini",
                  persona="bargain_hunter", budget=100, value=(20, 80))

``budget`` there is the agent's starting money (a population field). Spending limits on the
model are ``token_budget`` and ``cost_budget`` (US dollars) per agent, and
``session_token_budget`` / ``session_cost_budget`` shared by every LLM agent of the session.
``persona`` and ``model`` may be a name, a list or a {name: weight} mix; each agent draws
its own from its id, so a population can mix personas and models reproducibly.
"""

from __future__ import annotations

import asyncio
import os
import random
from collections.abc import Sequence
from typing import Any

from agents.base import Agent, DryRun
from agents.llm.budget import Limits, pool_in
from agents.llm.calls import CallRecord
from agents.llm.faults import MAX_ANSWER_CHARS, MAX_TOOL_CALLS
from agents.llm.model_call import CallLog, CallSettings
from agents.llm.personas import persona as get_persona
from agents.llm.personas import pick
from agents.llm.prompt import Memory
from agents.observation import Observation
from agents.wake import WakeRule
from protocols.actions import ActionBase
from protocols.mechanism_table import llm_tools

DEFAULT_MODEL = "scripted/auto"
DEFAULT_MAX_TOKENS = 1024
"""The completion cap sent with every call unless ``max_tokens`` says otherwise (issue 19): a
rambling model stops there instead of at the end of its context."""
KEYLESS_OK = ("openai", "hosted_vllm", "openai_like")
LLM_TABLE = "llm_calls"


def tools_for(role: str, mechanism: str = "bilateral") -> list[dict[str, Any]]:
    """The tools offered to an agent of ``role``: exactly the actions its mechanism accepts from that role.

    Derived from ``protocols.mechanism_table``; fewer schemas also make every request smaller.
    """
    return llm_tools(mechanism, role)


class LLMAgent(Agent):
    """An agent driven by a language model through litellm (the stand-in ``scripted/...`` offline)."""

    kind = "llm"
    description = (
        "LLM agent: a LangGraph loop over litellm (model=..., persona=...); checks its actions "
        "against the protocol and repairs rejected ones a bounded number of times."
    )
    is_async = True
    wake_default = WakeRule(heartbeat=10, price_move=0.1)  # a model turn only when something happened (agents.wake)

    def __init__(
        self,
        agent_id: str,
        role: str,
        rng: random.Random | None = None,
        *,
        model: Any = DEFAULT_MODEL,
        persona: Any = "neutral",
        max_in_flight: int = 64,
        pool: str = "default",
        token_budget: int | None = None,
        cost_budget: float | None = None,
        session_token_budget: int | None = None,
        session_cost_budget: float | None = None,
        max_repairs: int = 2,
        max_retries: int = 3,
        timeout: float = 60.0,
        backoff: float = 0.5,
        max_actions: int = 8,
        temperature: float | None = None,
        max_tokens: int | None = DEFAULT_MAX_TOKENS,
        max_answer_chars: int = MAX_ANSWER_CHARS,
        max_tool_calls: int = MAX_TOOL_CALLS,
        api_base: str | None = None,
        api_key: str | None = None,
        **params: Any,
    ) -> None:
        super().__init__(agent_id, role, rng, **params)
        self.model = pick(model, agent_id, "model")
        self.persona = get_persona(pick(persona, agent_id, "persona"))
        self.pool_key = f"{pool}/{max_in_flight}"
        self.max_in_flight = max_in_flight
        self.session_limits = Limits(session_token_budget, session_cost_budget)
        for name, cap in (("max_tokens", max_tokens), ("max_answer_chars", max_answer_chars)):
            if cap is not None and (isinstance(cap, bool) or not isinstance(cap, int) or cap < 1):
                raise ValueError(f"{name} must be a whole number of at least 1, not {cap!r}")
        if isinstance(max_tool_calls, bool) or not isinstance(max_tool_calls, int) or max_tool_calls < 0:
            raise ValueError(f"max_tool_calls must be a whole number of at least 0, not {max_tool_calls!r}")
        call_params: dict[str, Any] = {}
        for key, value in (
            ("temperature", temperature),
            ("max_tokens", DEFAULT_MAX_TOKENS if max_tokens is None else max_tokens),  # every call has a cap
            ("api_base", api_base),
            ("api_key", api_key),
        ):
            if value is not None:
                call_params[key] = value
        if (
            api_base
            and api_key is None
            and self.model.split("/", 1)[0] in KEYLESS_OK
            and not os.environ.get("OPENAI_API_KEY")
        ):
            call_params["api_key"] = "not-needed"  # local OpenAI-compatible servers ignore it; the SDK insists on one
        self.settings = CallSettings(
            model=self.model,
            params=call_params,
            timeout=timeout,
            max_retries=max_retries,
            backoff=backoff,
            limits=Limits(token_budget, cost_budget),
            max_answer_chars=max_answer_chars,
            max_tool_calls=max_tool_calls,
        )
        self.max_answers = 1 + max(0, max_repairs)
        self.max_actions = max_actions
        self.memory = Memory()
        self.log = CallLog(agent_id)
        self.last_turn: dict[str, Any] = {}
        self._seq_round = -1
        self._last_spend: tuple[int, float] | None = None  # the previous turn's usage: what the next one reserves
        self._described = {
            "model": self.model,
            "persona": self.persona.name,
            "max_in_flight": max_in_flight,
            "token_budget": token_budget,
            "cost_budget": cost_budget,
            "max_repairs": max_repairs,
            "api_base": api_base,
        }

    @property
    def spend(self) -> Any:
        """Tokens and money this agent's calls used so far."""
        return self.log.spend

    async def adecide(self, obs: Observation, check: DryRun) -> Sequence[ActionBase]:
        """One turn through the graph; never raises a model or parsing problem into the session."""
        self.memory.update(obs)
        if obs.round != self._seq_round:  # sub-steps of a round go on numbering the round's records
            self.log.seq, self._seq_round = 0, obs.round
        if self.log.stopped:
            self.last_turn = {"end_reason": self.log.stopped, "faults": ["budget"]}
            return []
        from agents.llm.graph import DIRECT_MAX_ANSWERS, TurnContext, run_direct, turn_graph

        settings = self.settings
        settings.params["seed"] = self.rng.randrange(2**31)  # fixed per (session seed, agent, round)
        pool = pool_in(self.shared, self.pool_key, self.max_in_flight, self.session_limits)
        # Ask the session budget before awaiting anything, so every turn of the round has asked
        # when the pool decides; the seeded draw is this turn's place in the admission order.
        last_tokens, last_cost = self._last_spend or (None, None)
        admission = pool.admit(self.rng.random(), self.id, *pool.estimate(last_tokens, last_cost))
        try:
            refused = await admission
        except asyncio.CancelledError:
            if admission.done() and not admission.cancelled() and admission.result() is None:
                pool.turn_done()  # started, then cancelled before it ran: give its place back
            raise
        if refused:
            self.log.stopped = f"session {refused}"
            self.log.new(obs.round, 0, event="budget", model=self.model, fault="budget", error=self.log.stopped)
            self.last_turn = {"end_reason": self.log.stopped, "faults": ["budget"]}
            return []
        before = (self.log.spend.tokens, self.log.spend.cost_usd)
        try:
            ctx = TurnContext(
                obs=obs,
                check=check,
                settings=settings,
                log=self.log,
                pool=pool,
                tools=tools_for(obs.role, obs.market.mechanism),
                persona=self.persona.name,
                persona_text=self.persona.instructions,
                memory=self.memory,
                max_answers=self.max_answers,
                max_actions=self.max_actions,
            )
            if getattr(settings.answers, "complete", False) and self.max_answers <= DIRECT_MAX_ANSWERS:
                final = await run_direct(ctx)  # a replay: every call is a lookup; the same nodes without LangGraph
            else:
                final = await turn_graph().ainvoke({}, context=ctx)  # langgraph loads on the first turn
        except Exception as err:  # a bug in the loop costs this turn, not the round
            self._gave_up(obs.round, f"the turn failed: {type(err).__name__}: {err}")
            self.last_turn = {"end_reason": "error", "faults": ["error"]}
            return []
        finally:
            pool.turn_done()
            self._last_spend = (self.log.spend.tokens - before[0], self.log.spend.cost_usd - before[1])
        actions = list(final.get("actions", []))
        self.last_turn = {
            "end_reason": final.get("end_reason", ""),
            "faults": list(final.get("faults", [])),
            "answers": final.get("answers", 0),
            "actions": len(actions),
        }
        if not actions and final.get("faults") and final.get("end_reason") not in ("passed", "done"):
            self._gave_up(obs.round, final.get("end_reason", ""))
        return actions

    def journal_calls(self, write: Any) -> None:
        """Have every paid call handed to ``write(record)`` as it returns (the session's journal)."""
        self.log.journal = write

    def _gave_up(self, round_: int, reason: str) -> CallRecord:
        return self.log.new(round_, 0, event="gave_up", model=self.model, fault="gave_up", error=reason[:1000])

    def drain_records(self) -> dict[str, list[dict[str, Any]]]:
        """Rows this agent kept since the last drain, by table; the session adds run id and round."""
        records, self.log.records = self.log.records, []
        return {LLM_TABLE: [r.row() for r in records]} if records else {}

    def describe(self) -> dict[str, Any]:
        """What the record keeps about this agent."""
        return {"kind": self.kind, **{k: v for k, v in self._described.items() if v is not None}}
