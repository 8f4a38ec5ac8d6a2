"""Limits on what a model can cost us (issue 19): a completion cap on every call, answers and
tool calls cut to caps with the cut recorded, and timeouts counted from when a request is sent."""

from __future__ import annotations

import asyncio
import json
import os
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from litellm import CustomLLM, ModelResponse
from sqlalchemy import text

from agents.llm import LLMAgent
from agents.llm import sending as sending_mod
from agents.llm.agent import DEFAULT_MAX_TOKENS
from agents.llm.budget import CallPool
from agents.llm.faults import MAX_ANSWER_CHARS, MAX_TOOL_CALLS, cap_answer
from agents.llm.model_call import CallLog, CallSettings, call_model
from agents.llm.model_server import ModelServer
from agents.llm.sending import mark_sent
from sandbox import Session
from traces import Store
from traces.llm_calls import llm_calls

MSGS = [{"role": "user", "content": "hello"}]


# --- the completion cap ------------------------------------------------------------------
@pytest.fixture(scope="module")
def server() -> Iterator[ModelServer]:
    with ModelServer() as srv:
        yield srv


def _http_session(srv: ModelServer, **kw: Any) -> Session:
    opts = {"model": "openai/gpt-4o-mini", "api_base": srv.url, "api_key": "stand-in", "wake": "every_round", **kw}
    s = Session(seed=4, rounds=1)
    s.spawn(LLMAgent, n=2, role="buyer", budget=200, value=(40, 90), demand=2, **opts)
    s.spawn(LLMAgent, n=2, role="seller", cost=(10, 40), capacity=3, **opts)
    return s


def test_every_request_carries_the_default_completion_cap(server: ModelServer) -> None:
    server.reset_stats()
    _http_session(server).run()
    assert server.stats["requests"] >= 4
    assert dict(server.max_tokens_seen) == {DEFAULT_MAX_TOKENS: server.stats["requests"]}, "every request, over HTTP"


def test_the_completion_cap_is_set_per_agent_and_cannot_be_switched_off(server: ModelServer) -> None:
    server.reset_stats()
    _http_session(server, max_tokens=64).run()
    assert dict(server.max_tokens_seen) == {64: server.stats["requests"]}
    server.reset_stats()
    _http_session(server, max_tokens=None).run()  # None is the default, not "no cap"
    assert dict(server.max_tokens_seen) == {DEFAULT_MAX_TOKENS: server.stats["requests"]}
    with pytest.raises(ValueError, match="max_tokens must be a whole number of at least 1"):
        LLMAgent("a", "buyer", max_tokens=0)


def test_the_cap_is_in_the_record_and_the_request_hash(tmp_path) -> None:
    db = str(tmp_path / "cap.db")
    s = Session(seed=4, rounds=1, store=db)
    s.spawn(LLMAgent, n=1, role="buyer", budget=200, value=(40, 90), wake="every_round")
    s.spawn(LLMAgent, n=1, role="seller", cost=(10, 40), capacity=3, wake="every_round", max_tokens=300)
    s.run()
    caps = {r["agent_id"]: json.loads(r["params_json"])["max_tokens"] for r in llm_calls(Store(db), s.run_id)}
    assert sorted(caps.values()) == [300, DEFAULT_MAX_TOKENS]


# --- answer size and tool calls ----------------------------------------------------------
class FloodModel(CustomLLM):
    """Test fake: a model that answers with a 10 MB text, or with 5,000 tool calls."""

    def __init__(self) -> None:
        super().__init__()
        self.requests: list[list[dict[str, Any]]] = []

    async def acompletion(self, model, messages, *args: Any, **kwargs: Any) -> ModelResponse:  # noqa: ANN001
        mark_sent()
        self.requests.append([dict(m) for m in messages])
        if model.endswith("text"):
            message = {"role": "assistant", "content": "x" * 10_000_000}
        else:
            calls = [
                {"id": f"c{i}", "type": "function", "function": {"name": "send_message", "arguments": "{}"}}
                for i in range(5000)
            ]
            message = {"role": "assistant", "content": None, "tool_calls": calls}
        return ModelResponse(
            choices=[{"index": 0, "finish_reason": "stop", "message": message}],
            usage={"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20},
        )


@pytest.fixture()
def flood() -> Iterator[FloodModel]:
    import litellm

    fake = FloodModel()
    litellm.custom_provider_map = [p for p in litellm.custom_provider_map if p["provider"] != "flood"]
    litellm.custom_provider_map.append({"provider": "flood", "custom_handler": fake})
    yield fake
    litellm.custom_provider_map = [p for p in litellm.custom_provider_map if p["provider"] != "flood"]


@pytest.mark.parametrize("kind", ["text", "tools"])
def test_a_flooding_model_is_cut_and_the_cut_recorded(flood: FloodModel, tmp_path, kind: str) -> None:
    db = tmp_path / "flood.db"
    s = Session(seed=3, rounds=2, store=str(db))
    s.spawn(LLMAgent, n=1, role="buyer", budget=200, value=(40, 90), model=f"flood/{kind}", wake="every_round")
    s.spawn("zi_c", n=1, role="seller", cost=(10, 40), capacity=3)
    result = s.run()
    assert result.rounds == 2, "the run goes on"
    store = Store(str(db))
    rows = [r for r in llm_calls(store, result.run_id) if r["event"] == "call"]
    assert len(rows) == 2 * 3, "three answers a turn (the first and two repairs), two rounds"
    for r in rows:
        assert r["fault"] == "oversized"
        if kind == "text":
            assert "10,000,000 characters of answer cut to 16,000" in r["error"]
        else:
            assert f"5,000 tool calls cut to {MAX_TOOL_CALLS}" in r["error"]
        assert len(r["response_json"]) < MAX_ANSWER_CHARS + 8_000
    # what goes back to the model: the cut answer, and one tool result per tool call kept
    repair = flood.requests[1]
    assert sum(len(json.dumps(m)) for m in repair) < 60_000
    assert sum(1 for m in repair if m.get("role") == "tool") == (0 if kind == "text" else MAX_TOOL_CALLS)
    with store.engine.connect() as conn:
        events = [
            json.loads(e)
            for (e,) in conn.execute(
                text("select events_json from spans where run_id=:r and name like 'chat %'"), {"r": result.run_id}
            )
        ]
    cut = [ev["attributes"] for evs in events for ev in evs if ev["name"] == "agora.llm.answer_cut"]
    assert len(cut) == len(rows)
    key = "agora.llm.answer.chars" if kind == "text" else "agora.llm.answer.tool_calls"
    assert cut[0][key] == (10_000_000 if kind == "text" else 5000)
    store.dispose()
    size = sum(os.path.getsize(p) for p in (db, f"{db}-wal") if os.path.exists(p))
    assert size < 3_000_000, f"the store stays small ({size} bytes)"


def test_answers_within_the_caps_are_kept_as_they_came() -> None:
    body = {
        "id": "x",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "PASS", "tool_calls": None}}],
        "usage": {"prompt_tokens": 1},
    }
    kept, cut = cap_answer(body, 100, 4)
    assert kept is body and cut is None
    kept, cut = cap_answer(
        {"choices": [{"message": {"content": "abcdef", "reasoning_content": "y" * 50}}]}, max_chars=20, max_tool_calls=4
    )
    assert cut == {"chars": 6, "kept_chars": 6, "tool_calls": 0, "kept_tool_calls": 0, "other_chars": 50}
    assert kept["choices"][0]["message"] == {"role": "assistant", "content": "abcdef"}


# --- timeouts from when the request is sent ----------------------------------------------
class GateModel(CustomLLM):
    """Test fake: the request whose text is "first" waits for ``gate``; "hang" never answers; others answer at once."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Event()

    async def acompletion(self, model, messages, *args: Any, **kwargs: Any) -> ModelResponse:  # noqa: ANN001
        mark_sent()
        what = messages[-1]["content"]
        if what == "first":
            await self.gate.wait()
        if what == "hang":
            await asyncio.Event().wait()
        return ModelResponse(choices=[{"index": 0, "message": {"role": "assistant", "content": "PASS"}}])


@pytest.fixture()
def gate() -> Iterator[GateModel]:
    import litellm

    fake = GateModel()
    litellm.custom_provider_map = [p for p in litellm.custom_provider_map if p["provider"] != "gate"]
    litellm.custom_provider_map.append({"provider": "gate", "custom_handler": fake})
    yield fake
    litellm.custom_provider_map = [p for p in litellm.custom_provider_map if p["provider"] != "gate"]


def _settings(timeout: float) -> CallSettings:
    return CallSettings(model="gate/m", timeout=timeout, max_retries=0, backoff=0.0)


async def _until(cond: Any) -> None:
    while not cond():
        await asyncio.sleep(0.005)


def test_waiting_for_a_place_under_the_cap_is_not_a_model_timeout(gate: GateModel) -> None:
    async def main() -> tuple[Any, Any]:
        pool = CallPool(1)
        first = asyncio.ensure_future(
            call_model(CallLog("a"), _settings(600), pool, [{"role": "user", "content": "first"}], [], 1, 1)
        )
        await _until(lambda: pool.in_flight == 1)
        second = asyncio.ensure_future(
            call_model(CallLog("b"), _settings(0.2), pool, [{"role": "user", "content": "second"}], [], 1, 1)
        )
        await _until(lambda: pool.waiting == 1)
        await asyncio.sleep(2.0)  # longer than the second call's 0.2 s timeout (+1 s of grace): it only queues
        gate.gate.set()
        return await first, await second

    (m1, r1), (m2, r2) = asyncio.run(main())
    assert m2 is not None and r2.fault is None, r2.error
    assert r2.queue_ms >= 2000 and r2.latency_ms < r2.queue_ms


def test_waiting_for_litellms_worker_threads_is_not_a_model_timeout(gate: GateModel, monkeypatch) -> None:
    monkeypatch.setattr(sending_mod, "SEND_WAIT", 1000.0)

    async def main() -> tuple[Any, Any]:
        loop = asyncio.get_running_loop()
        workers = ThreadPoolExecutor(max_workers=1)
        loop.set_default_executor(workers)
        busy = threading.Event()
        blocker = loop.run_in_executor(None, busy.wait)  # litellm's only worker thread is taken
        call = asyncio.ensure_future(
            call_model(CallLog("a"), _settings(0.2), CallPool(4), [{"role": "user", "content": "x"}], [], 1, 1)
        )
        await _until(lambda: workers._work_queue.qsize() >= 1)  # the call waits behind the blocker
        await asyncio.sleep(2.0)  # longer than its timeout (0.2 s + 1 s of grace)
        busy.set()
        await blocker
        return await call

    message, rec = asyncio.run(main())
    assert message is not None and rec.fault is None, rec.error
    assert rec.queue_ms >= 2000 and rec.latency_ms < rec.queue_ms


def test_a_request_never_sent_is_not_recorded_as_a_model_timeout(gate: GateModel, monkeypatch) -> None:
    monkeypatch.setattr(sending_mod, "SEND_WAIT", 2.0)

    async def main() -> Any:
        loop = asyncio.get_running_loop()
        loop.set_default_executor(ThreadPoolExecutor(max_workers=1))
        busy = threading.Event()
        blocker = loop.run_in_executor(None, busy.wait)
        try:
            return await call_model(
                CallLog("a"), _settings(0.05), CallPool(4), [{"role": "user", "content": "x"}], [], 1, 1
            )
        finally:
            busy.set()
            await blocker

    message, rec = asyncio.run(main())
    assert message is None and rec.fault == "error"
    assert "was not sent within" in rec.error and "no model time was spent" in rec.error


def test_a_model_that_hangs_after_the_request_is_sent_times_out_with_a_sentence(gate: GateModel) -> None:
    message, rec = asyncio.run(
        call_model(CallLog("a"), _settings(0.05), CallPool(4), [{"role": "user", "content": "hang"}], [], 1, 1)
    )
    assert message is None and rec.fault == "timeout"
    assert "no answer within 1.05 s of sending the request" in rec.error


def test_a_run_recorded_without_the_cap_still_replays(tmp_path) -> None:
    """Runs recorded before every call carried max_tokens replay with the cap they had (none)."""
    from sandbox.replay import replay

    db = str(tmp_path / "old.db")
    s = Session(seed=4, rounds=2, store=db)
    s.spawn(LLMAgent, n=2, role="buyer", budget=200, value=(40, 90), wake="every_round")
    s.spawn(LLMAgent, n=2, role="seller", cost=(10, 40), capacity=3, wake="every_round")
    for agent in s.agents.values():  # as an older Agora sent them: no max_tokens
        agent.settings.params.pop("max_tokens")
    s.run()
    rows = list(llm_calls(Store(db), s.run_id))
    assert rows and all("max_tokens" not in json.loads(r["params_json"]) for r in rows)
    assert replay(s.run_id, db).identical
