"""Builders for the tracing tests: a tiny market, a fake agent that makes a model-call span."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from typing import Any

from opentelemetry import trace

from agents.base import Agent, DryRun
from agents.observation import Observation
from protocols import semconv as sc
from sandbox.scenario import Scenario, parse_scenario


def tiny(rounds: int = 4, seed: int = 4) -> Scenario:
    """Three ZI-C buyers and two ZI-C sellers of one service: small, but it trades."""
    return parse_scenario(
        {
            "name": "tiny",
            "seed": seed,
            "rounds": rounds,
            "market": {"min_price": 1.0, "max_price": 100.0},
            "population": [
                {
                    "agent": "zi_c",
                    "n": 3,
                    "role": "buyer",
                    "service": "svc",
                    "budget": 300,
                    "value": [60, 120],
                    "demand": 2,
                },
                {"agent": "zi_c", "n": 2, "role": "seller", "service": "svc", "cost": [10, 50], "capacity": 4},
            ],
        }
    )


class FakeChattingAgent(Agent):
    """A FAKE async agent: makes one made-up ``chat`` span per turn (no model), returns no actions.

    It sets no agent or round attribute on its span, the way an instrumented library would
    not: the tracing layer must nest it under the turn and fill those in.
    """

    kind = "fake_chatting"
    is_async = True
    uses_model = True  # its turns make model-call spans: traced as invoke_agent, like an LLM agent's

    async def adecide(self, obs: Observation, check: DryRun) -> Sequence[Any]:
        await asyncio.sleep(0)  # let other turns interleave, as real model calls do
        attrs = {
            sc.GEN_AI_OPERATION: sc.SPAN_CHAT,
            sc.GEN_AI_PROVIDER: "fake",
            sc.GEN_AI_REQUEST_MODEL: "fake-model",
            sc.GEN_AI_INPUT_TOKENS: 10 + obs.round,
            sc.GEN_AI_OUTPUT_TOKENS: 3,
            sc.GEN_AI_FINISH_REASONS: ("stop",),
            sc.GEN_AI_INPUT_MESSAGES: json.dumps([{"role": "user", "content": f"secret prompt {self.id}"}]),
            sc.GEN_AI_OUTPUT_MESSAGES: json.dumps([{"role": "assistant", "content": "secret answer"}]),
        }
        with trace.get_tracer("tests.fake").start_as_current_span("chat fake-model", attributes=attrs):
            await asyncio.sleep(0)
        return []


class LeakySpanAgent(Agent):
    """A FAKE agent whose code starts a span and never ends it (a bug tracing must report)."""

    kind = "fake_leaky"

    def decide(self, obs: Observation) -> Sequence[Any]:
        trace.get_tracer("tests.fake").start_span("forgotten")
        return []
