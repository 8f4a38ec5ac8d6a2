"""The session budget admits turns in a seeded order: who is refused never depends on call timing."""

from __future__ import annotations

import asyncio
import random
from typing import Any

from agents.llm import LLMAgent
from agents.llm.budget import CallPool, Limits, pool_in, pools_of
from agents.llm.scripted_model import ScriptedStandIn, register_stand_in
from sandbox import Session


class ShuffledStandIn(ScriptedStandIn):
    """A fake provider: the stand-in's answers, each after a random pause, so calls finish in any order."""

    def __init__(self, seed: int) -> None:
        super().__init__()
        self.rng = random.Random(seed)

    async def acompletion(self, model: str, messages: list, *args: Any, **kwargs: Any) -> Any:  # noqa: ANN401
        """The stand-in's answer, late by a random few milliseconds."""
        await asyncio.sleep(self.rng.random() * 0.02)
        return await super().acompletion(model, messages, *args, **kwargs)


def _run(shuffle_seed: int, budget: int, rounds: int = 4) -> tuple[Session, dict[str, list[int]]]:
    register_stand_in(ShuffledStandIn(shuffle_seed))
    try:
        s = Session(seed=3, rounds=rounds)
        kw = {"session_token_budget": budget, "wake": "every_round"}  # a model turn every round (agents.wake)
        s.spawn(LLMAgent, n=4, role="buyer", persona="bargain_hunter", budget=200, value=(40, 90), demand=2, **kw)
        s.spawn(LLMAgent, n=3, role="seller", persona="honest_seller", cost=(10, 40), capacity=3, **kw)
        refused: dict[str, list[int]] = {}

        def grab(session: Session, log: Any) -> None:
            for r in log.batch.rows.get("llm_calls", []):
                if r["event"] == "budget":
                    refused.setdefault(r["agent_id"], []).append(r["round"])

        s.hooks.round_end.append(grab)
        s.run()
    finally:
        register_stand_in(ScriptedStandIn())
    return s, refused


def test_who_is_refused_does_not_depend_on_which_call_finishes_first() -> None:
    # a budget of round 1's spend and a half: round 2 admits some turns, not all
    probe, _ = _run(1, 10**12, rounds=1)
    budget = int(1.5 * sum(a.spend.tokens for a in probe.agents.values()))
    first, refused_first = _run(1, budget)
    second, refused_second = _run(2, budget)
    calls = {aid: a.spend.calls for aid, a in first.agents.items()}
    assert calls == {aid: a.spend.calls for aid, a in second.agents.items()}
    assert refused_first == refused_second
    in_round_2 = [aid for aid, rounds in refused_first.items() if rounds == [2]]
    assert 0 < len(in_round_2) < len(first.agents), "round 2 admits some turns and refuses others"
    assert all(len(rounds) == 1 for rounds in refused_first.values()), "a refusal is recorded once per agent"
    pool = next(iter(pools_of(first.shared).values()))
    assert pool.refused == len(refused_first)


def test_turns_are_admitted_in_their_seeded_order_not_the_order_they_ask() -> None:
    async def go() -> list[tuple[str, str | None]]:
        pool = CallPool(8, Limits(tokens=100))
        pool.spend.add(50, 0, 0.0)
        asks = [("c", 0.9), ("a", 0.1), ("b", 0.5)]  # the order they ask in
        futures = [(aid, pool.admit(order, aid, 30, 0.0)) for aid, order in asks]
        return [(aid, await f) for aid, f in futures]

    out = dict(asyncio.run(go()))
    assert out["a"] is None and out["b"] is None  # 50 used, then 50+30 = 80 < 100: both admitted
    assert out["c"] is not None and "token budget of 100 spent (110 used" in out["c"]


def test_pools_belong_to_the_session_and_the_semaphore_to_the_running_loop() -> None:
    a, b = Session(seed=1, rounds=1), Session(seed=1, rounds=1)
    pa = pool_in(a.shared, "default/4", 4, Limits(tokens=10))
    assert pool_in(a.shared, "default/4", 64, Limits()) is pa, "the first agent fixes the cap and the budget"
    assert pool_in(b.shared, "default/4", 4, Limits(tokens=10)) is not pa, "no pool is shared across sessions"

    async def sem() -> asyncio.Semaphore:
        return pa.semaphore

    s1, s2 = asyncio.run(sem()), asyncio.run(sem())
    assert s1 is not s2 and pa.max_in_flight == 4


def test_a_spent_session_budget_stops_every_agent_for_the_rest_of_the_run() -> None:
    s, refused = _run(1, 5000)
    assert set(refused) == set(s.agents), "round 1 spends the 5,000 tokens: every agent is refused in round 2"
    assert all(a.spend.calls == 1 for a in s.agents.values())
