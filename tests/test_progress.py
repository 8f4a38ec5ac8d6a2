"""Progress that fits slow models: the live line counts model calls answered, in flight and waiting."""

from __future__ import annotations

import asyncio
import io
from typing import Any

from rich.console import Console

from agents.llm import LLMAgent
from agents.llm.scripted_model import ScriptedStandIn, register_stand_in
from sandbox import Session
from sandbox.progress import RunProgress, live_status


class HeldStandIn(ScriptedStandIn):
    """A fake provider: every call is held until the calls of all agents are in flight or queued behind
    the cap (a state, not a time: the wait is bounded only so a bug cannot hang the suite); the live
    status of that moment is noted once, then each call answers as the stand-in does."""

    def __init__(self, agents: int) -> None:
        super().__init__()
        self.agents = agents
        self.session: Session | None = None
        self.released = False
        self.seen: list[Any] = []

    async def acompletion(self, model: str, messages: list, *args: Any, **kwargs: Any) -> Any:  # noqa: ANN401
        """Hold until every agent's call is in flight or waiting, then answer."""
        assert self.session is not None
        for _ in range(60_000):
            status = live_status(self.session)
            if self.released or status.in_flight + status.waiting == self.agents:
                break
            await asyncio.sleep(0.001)
        if not self.released:
            self.released = True
            self.seen.append(status)
        return await super().acompletion(model, messages, *args, **kwargs)


def _session(cap: int) -> Session:
    s = Session(seed=4, rounds=2)
    kw = {"wake": "every_round", "max_in_flight": cap}
    s.spawn(LLMAgent, n=3, role="buyer", persona="bargain_hunter", budget=200, value=(40, 90), demand=1, **kw)
    s.spawn(LLMAgent, n=2, role="seller", persona="honest_seller", cost=(10, 40), capacity=3, **kw)
    return s


def test_live_status_counts_calls_in_flight_and_waiting_under_the_cap() -> None:
    fake = HeldStandIn(agents=5)
    register_stand_in(fake)
    try:
        s = _session(cap=2)
        fake.session = s
        s.run()
    finally:
        register_stand_in(ScriptedStandIn())
    [during] = fake.seen
    assert (during.in_flight, during.waiting, during.calls) == (2, 3, 0), "two calls hold the cap, three wait"
    assert during.text().startswith("0 calls answered, 2 in flight, 3 waiting")
    after = live_status(s)
    assert after.in_flight == after.waiting == 0
    assert after.calls == sum(a.spend.calls for a in s.agents.values()) > 0
    assert after.tokens == sum(a.spend.tokens for a in s.agents.values()) > 0


def test_the_progress_bar_shows_rounds_and_the_call_line() -> None:
    register_stand_in(ScriptedStandIn())
    s = _session(cap=4)
    out = io.StringIO()
    with RunProgress(s, console=Console(file=out, width=200, force_terminal=False)) as bar:
        s.run(progress=bar.update)
    shown = out.getvalue()
    calls = sum(a.spend.calls for a in s.agents.values())
    assert "2/2" in shown and f"{calls:,} calls answered, 0 in flight, 0 waiting" in shown


def test_a_scripted_run_shows_no_call_line() -> None:
    s = Session(seed=1, rounds=2)
    s.spawn("zi_c", n=2, role="buyer", budget=100, value=50, demand=1)
    s.run(show_progress=True)
    assert live_status(s).text() == "" and live_status(s).round == 2
