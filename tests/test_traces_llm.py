"""The real LLM agent on the in-process stand-in model: its ``chat`` spans nest under its turn."""

from __future__ import annotations

from agents.llm import LLMAgent
from agents.llm.scripted_model import ScriptedStandIn, register_stand_in
from protocols import semconv as sc
from sandbox import Session
from traces import Store, trace_read


def test_chat_spans_of_the_llm_agent_nest_under_invoke_agent(tmp_path) -> None:
    register_stand_in(ScriptedStandIn())
    store = Store(str(tmp_path / "llm.db"))
    s = Session(seed=3, rounds=3, store=store)
    kw = {"wake": "every_round"}  # a model turn every round: the count below is per round
    s.spawn(LLMAgent, n=2, role="buyer", persona="bargain_hunter", budget=200, value=(40, 90), demand=2, **kw)
    s.spawn(LLMAgent, n=2, role="seller", persona="honest_seller", cost=(10, 40), capacity=3, **kw)
    s.run()
    rows = {r.span_id: r for r in trace_read.spans(store, s.run_id, limit=None)}
    calls = trace_read.llm_calls(store, s.run_id)
    assert len(calls) == sum(a.spend.calls for a in s.agents.values()) >= 4 * 3
    for c in calls:
        turn = rows[c.parent_id]
        assert turn.operation == sc.SPAN_AGENT_TURN and turn.agent_id == c.agent_id and turn.round == c.round
        assert turn.start_ns <= c.start_ns and c.end_ns <= turn.end_ns
        a = c.attrs()
        assert a[sc.GEN_AI_OPERATION] == "chat" and a[sc.GEN_AI_PROVIDER] and a[sc.GEN_AI_REQUEST_MODEL] == c.model
        assert c.input_tokens > 0 and c.output_tokens > 0 and a[sc.GEN_AI_FINISH_REASONS]
    usage = trace_read.token_usage(store, s.run_id)
    assert set(usage) == set(s.agents) and all(i > 0 for i, _ in usage.values())
    assert trace_read.span_counts(store, s.run_id).ok
