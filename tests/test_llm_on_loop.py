"""litellm without its thread hop (``agents.llm.lite.acompletion_on_loop``): which calls take it, and that they
answer, price and fail as they do through ``litellm.acompletion``.

The paths it covers are ``openai/`` with the SDK client Agora builds (an OpenAI-compatible server given
``api_base`` and ``api_key``; here the loopback stand-in server) and the in-process ``scripted/`` stand-in;
any other provider (``hosted_vllm/`` here) still goes through ``litellm.acompletion``.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from helpers import warmed_model_server

from agents.llm import LLMAgent
from agents.llm import lite as lite_mod
from agents.llm.faults import classify
from agents.llm.lite import acompletion_on_loop, litellm, on_loop_fits
from agents.llm.model_server import ModelServer
from agents.llm.sending import gated_http_client
from sandbox import Session
from traces import Store
from traces.llm_calls import llm_calls


@pytest.fixture(scope="module")
def server() -> Iterator[ModelServer]:
    with warmed_model_server() as srv:
        yield srv


class _Watch:
    """Counts ``litellm.acompletion`` calls and where litellm's Python ``completion`` ran."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.acompletion = 0
        self.on_loop = 0
        self.off_loop = 0
        real_a, real_c = litellm.acompletion, lite_mod._PYTHON_COMPLETION

        async def counted(*args: Any, **kw: Any) -> Any:
            self.acompletion += 1
            return await real_a(*args, **kw)

        def where(*args: Any, **kw: Any) -> Any:
            try:
                asyncio.get_running_loop()
                self.on_loop += 1
            except RuntimeError:  # a worker thread: no event loop runs there
                self.off_loop += 1
            return real_c(*args, **kw)

        monkeypatch.setattr(litellm, "acompletion", counted)
        monkeypatch.setattr(lite_mod, "_PYTHON_COMPLETION", where)
        monkeypatch.setattr(litellm.main, "completion", where)  # what litellm.acompletion's worker calls


def _run(model: str, store: str | None = None, **kw: Any) -> Session:
    s = Session(seed=3, rounds=2, store=store)
    opts = {"model": model, "wake": "every_round", "backoff": 0.0, **kw}
    s.spawn(LLMAgent, n=2, role="buyer", persona="bargain_hunter", budget=200, value=(40, 90), demand=2, **opts)
    s.spawn(LLMAgent, n=2, role="seller", persona="honest_seller", cost=(10, 40), capacity=3, **opts)
    s.run()
    return s


def _calls(s: Session) -> int:
    return sum(a.spend.calls for a in s.agents.values())


def test_openai_over_http_is_prepared_on_the_event_loop(server: ModelServer, monkeypatch) -> None:
    watch = _Watch(monkeypatch)
    s = _run("openai/gpt-4o-mini", api_base=server.url, api_key="stand-in")
    assert _calls(s) > 0
    assert watch.acompletion == 0 and watch.off_loop == 0
    assert watch.on_loop == _calls(s)
    assert sum(a.spend.cost_usd for a in s.agents.values()) > 0  # litellm priced every call as before


def test_the_scripted_stand_in_is_prepared_on_the_event_loop(monkeypatch) -> None:
    watch = _Watch(monkeypatch)
    s = _run("scripted/zi_c")
    assert _calls(s) > 0
    assert watch.acompletion == 0 and watch.off_loop == 0 and watch.on_loop == _calls(s)


def test_a_provider_not_covered_still_goes_through_litellm_acompletion(server: ModelServer, monkeypatch) -> None:
    watch = _Watch(monkeypatch)
    s = _run("hosted_vllm/gpt-4o-mini", api_base=server.url, api_key="stand-in")
    assert _calls(s) > 0
    assert watch.acompletion == _calls(s) and watch.on_loop == 0 and watch.off_loop == _calls(s)


def test_which_calls_fit() -> None:
    client = object()
    assert on_loop_fits("openai/gpt-4o-mini", {"api_base": "http://x/v1", "api_key": "k", "client": client})
    assert on_loop_fits("scripted/zi_c", {"temperature": 0.0, "timeout": 5})
    assert not on_loop_fits("openai/gpt-4o-mini", {"api_base": "http://x/v1", "api_key": "k"})  # litellm builds it
    assert not on_loop_fits("anthropic/claude", {"client": client})
    assert not on_loop_fits("scripted/zi_c", {"fallbacks": ["scripted/auto"]})
    assert not on_loop_fits("scripted/zi_c", {"mock_response": "hi"})


def _client(server: ModelServer) -> Any:
    from openai import AsyncOpenAI

    from agents.llm.lite import OpenAIChatCompletion

    http = gated_http_client(OpenAIChatCompletion._get_async_http_client())
    return AsyncOpenAI(api_key="stand-in", base_url=server.url, http_client=http, max_retries=0)


def test_the_same_answer_usage_and_cost_as_through_litellm_acompletion(server: ModelServer) -> None:
    from agents.llm.agent import tools_for

    messages = [{"role": "system", "content": "You trade."}, {"role": "user", "content": "Round 1. Buy cheap."}]

    async def both() -> tuple[Any, Any]:
        client = _client(server)
        kw = {"model": "openai/gpt-4o-mini", "messages": messages, "tools": tools_for("buyer"), "client": client}
        kw |= {"api_base": server.url, "api_key": "stand-in", "max_retries": 0, "drop_params": True}
        a = await litellm.acompletion(**kw)
        b = await acompletion_on_loop(**kw)
        await client.close()
        return a, b

    a, b = asyncio.run(both())
    da, db = a.model_dump(mode="json"), b.model_dump(mode="json")
    for d in (da, db):
        d.pop("id"), d.pop("created")
    assert da == db
    assert a._hidden_params["response_cost"] == b._hidden_params["response_cost"] > 0


def test_a_refused_connection_fails_as_through_litellm_acompletion() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed once the with block ends
    base = f"http://127.0.0.1:{port}/v1"

    async def both() -> list[BaseException]:
        from openai import AsyncOpenAI

        client = AsyncOpenAI(api_key="k", base_url=base, max_retries=0)
        kw = {"model": "openai/x", "messages": [{"role": "user", "content": "hi"}], "client": client}
        kw |= {"api_base": base, "api_key": "k", "max_retries": 0, "timeout": 5}
        out = []
        for send in (litellm.acompletion, acompletion_on_loop):
            try:
                await send(**kw)
            except Exception as err:
                out.append(err)
        await client.close()
        return out

    errs = asyncio.run(both())
    assert len(errs) == 2
    assert type(errs[0]) is type(errs[1])
    assert classify(errs[0]) == classify(errs[1]) == "connection"


def test_prices_from_the_checked_rates_equal_litellm_s_own(server: ModelServer, monkeypatch, tmp_path) -> None:
    """After ``PRICE_CHECKS`` answers priced by litellm matched the rates exactly, the rates price the
    answers and litellm's cost calculator is not called again; the recorded costs are the same either way."""
    real = litellm.response_cost_calculator
    priced: list[Any] = []

    def counted(*args: Any, **kw: Any) -> Any:
        out = real(*args, **kw)
        priced.append(out)
        return out

    monkeypatch.setattr(litellm, "response_cost_calculator", counted)

    def costs(table: bool) -> list[tuple[Any, ...]]:
        monkeypatch.setattr(lite_mod, "PRICE_FROM_TABLE", table)
        monkeypatch.setattr(lite_mod, "_RATES", {})
        monkeypatch.setattr(lite_mod, "_CHECKED", {})
        priced.clear()
        db = str(tmp_path / f"p{table}.db")
        s = _run("openai/gpt-4o-mini", store=db, api_base=server.url, api_key="stand-in")
        rows = [r for r in llm_calls(Store(db), s.run_id) if r["event"] == "call"]
        keys = ("agent_id", "round", "seq", "prompt_tokens", "completion_tokens", "cost_usd", "request_hash")
        return sorted(tuple(r[k] for k in keys) for r in rows)

    by_litellm = costs(False)
    assert len(priced) == len(by_litellm)
    by_table = costs(True)
    assert by_table == by_litellm and all(r[5] > 0 for r in by_table)
    assert len(by_table) > lite_mod.PRICE_CHECKS and len(priced) == lite_mod.PRICE_CHECKS
    assert lite_mod._RATES == {("openai/gpt-4o-mini", "gpt-4o-mini"): lite_mod._rates_of("openai/gpt-4o-mini")}
