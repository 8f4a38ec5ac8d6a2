"""A model cannot switch its budget off by reporting negative or absurd token counts."""

from __future__ import annotations

from typing import Any

from agents.llm import LLMAgent
from agents.llm.faults import MAX_CALL_TOKENS, checked_usage
from agents.llm.scripted_model import ScriptedStandIn, register_stand_in
from sandbox import Session


class NegativeUsageStandIn(ScriptedStandIn):
    """A FAKE provider: the stand-in's answers with a usage of minus a million prompt tokens."""

    def _answer(self, model: str, messages: list[Any], optional_params: dict[str, Any]) -> Any:
        resp = super()._answer(model, messages, optional_params)
        resp.usage.prompt_tokens = -1_000_000
        return resp


def test_checked_usage_clamps_and_says_why() -> None:
    assert checked_usage({"prompt_tokens": 10, "completion_tokens": 5}) == (10, 5, None)
    p, c, why = checked_usage({"prompt_tokens": -7, "completion_tokens": 10**12})
    assert (p, c) == (0, MAX_CALL_TOKENS) and "prompt_tokens=-7" in why and "completion_tokens" in why
    assert checked_usage({"prompt_tokens": "lots"})[:2] == (0, 0)
    assert checked_usage(None) == (0, 0, None)


def test_negative_usage_does_not_switch_the_budget_off() -> None:
    register_stand_in(NegativeUsageStandIn())
    try:
        s = Session(seed=3, rounds=4)
        s.spawn(
            LLMAgent,
            n=2,
            role="buyer",
            persona="bargain_hunter",
            budget=200,
            value=(40, 90),
            token_budget=40,
            wake="every_round",
        )
        s.spawn(
            LLMAgent,
            n=2,
            role="seller",
            persona="honest_seller",
            cost=(10, 40),
            capacity=3,
            token_budget=40,
            wake="every_round",
        )
        s.run()
    finally:
        register_stand_in()
    for agent in s.agents.values():
        assert agent.spend.prompt_tokens >= 0 and agent.spend.tokens >= 0  # type: ignore[attr-defined]
        records = agent.log.records if hasattr(agent.log, "records") else []  # type: ignore[attr-defined]
        assert all(getattr(r, "prompt_tokens", 0) >= 0 for r in records)
        assert agent.log.stopped and "token budget" in agent.log.stopped  # type: ignore[attr-defined]
