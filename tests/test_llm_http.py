"""LLM agents over the real litellm HTTP path against the loopback stand-in server, with faults."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator

import pytest
from helpers import warmed_model_server

from agents.llm import LLMAgent
from agents.llm.model_server import ModelServer, ServerFaults
from sandbox import Session
from traces import Store
from traces.llm_calls import llm_calls


@pytest.fixture(scope="module")
def server() -> Iterator[ModelServer]:
    with warmed_model_server() as srv:
        yield srv


@pytest.fixture()
def fresh(server: ModelServer) -> Iterator[ModelServer]:
    server.faults = ServerFaults()
    server.reset_stats()
    yield server
    server.faults = ServerFaults()


def _session(srv: ModelServer, store=None, rounds: int = 2, n_buyers: int = 2, n_sellers: int = 2, **kw) -> Session:
    opts = {
        "model": "openai/gpt-4o-mini",
        "api_base": srv.url,
        "api_key": "stand-in",
        "backoff": 0.0,
        "timeout": 60.0,
        "wake": "every_round",  # these tests count calls per round: a model turn every round
        **kw,
    }
    s = Session(seed=4, rounds=rounds, store=store)
    s.spawn(LLMAgent, n=n_buyers, role="buyer", persona="bargain_hunter", budget=200, value=(40, 90), demand=2, **opts)
    s.spawn(LLMAgent, n=n_sellers, role="seller", persona="honest_seller", cost=(10, 40), capacity=3, **opts)
    return s


def test_full_run_over_http_trades_and_prices_the_calls(fresh: ModelServer, tmp_path) -> None:
    db = str(tmp_path / "h.db")
    s = _session(fresh, db, rounds=8)
    result = s.run()
    assert result.summary["transactions"] > 0
    rows = [r for r in llm_calls(Store(db), result.run_id) if r["event"] == "call"]
    assert len(rows) == fresh.stats["requests"] and all(r["fault"] is None for r in rows), [
        (r["agent_id"], r["round"], r["fault"], r["error"]) for r in rows if r["fault"]
    ]
    # litellm prices the call as gpt-4o-mini: $0.15 per million prompt tokens, $0.60 per million completion tokens
    for r in rows[:5]:
        assert r["cost_usd"] == pytest.approx(r["prompt_tokens"] * 0.15e-6 + r["completion_tokens"] * 0.6e-6, rel=1e-6)
    assert json.loads(rows[0]["params_json"]).get("api_key") is None, "keys never reach the record"


def test_money_budget_stops_calls(fresh: ModelServer) -> None:
    s = _session(fresh, rounds=3, cost_budget=0.0001)  # one call of ~1,300 prompt tokens costs ~$0.0002
    s.run()
    assert all(a.spend.calls == 1 and "money budget" in (a.log.stopped or "") for a in s.agents.values())


def test_calls_in_flight_never_exceed_the_cap(fresh: ModelServer) -> None:
    fresh.faults = ServerFaults(latency=0.05)
    s = _session(fresh, rounds=1, n_buyers=10, n_sellers=6, max_in_flight=3)
    s.run()
    assert fresh.stats["requests"] >= 16
    assert 2 <= fresh.peak_in_flight <= 3


def test_the_cap_is_taken_in_the_transport_and_the_run_closes_its_client(fresh: ModelServer) -> None:
    from agents.llm.budget import pools_of

    fresh.faults = ServerFaults(latency=0.05)
    s = _session(fresh, rounds=2, n_buyers=6, n_sellers=4, max_in_flight=2)
    s.run(1)
    (pool,) = pools_of(s.shared).values()
    (client,) = pool._clients.values()  # one OpenAI SDK client for the server, its transport gated
    assert client.is_closed(), "the run's event loop closed its client when it shut down"
    assert pool.in_flight == 0 and pool.peak_in_flight == 2 and fresh.peak_in_flight <= 2
    s.run(1)  # a new run, a new event loop: a new client
    (again,) = pool._clients.values()
    assert again is not client and again.is_closed()
    assert fresh.stats["requests"] >= 20


def _faulty_turn(srv: ModelServer, tmp_path, **faults) -> tuple[Session, list[dict]]:
    srv.faults = ServerFaults(seed=1, **faults)
    db = str(tmp_path / "f.db")
    s = _session(srv, db, rounds=1, n_buyers=1, n_sellers=2, max_retries=2, timeout=0.5)
    run_id = s.run().run_id
    assert s.round == 1, "the round finishes whatever the model does"
    return s, list(llm_calls(Store(db), run_id))


@pytest.mark.parametrize(
    ("faults", "kind"),
    [
        ({"rate_429": 1.0}, "rate_limited"),
        ({"rate_500": 1.0}, "server_error"),
        ({"hang": 1.0, "hang_seconds": 30}, "timeout"),
    ],
)
def test_transport_faults_are_retried_then_given_up_and_recorded(fresh: ModelServer, tmp_path, faults, kind) -> None:
    s, rows = _faulty_turn(fresh, tmp_path, **faults)
    for aid in s.agents:
        mine = [r for r in rows if r["agent_id"] == aid]
        assert [r["fault"] for r in mine] == [kind] * 3 + ["gave_up"], "first try, two retries, then the turn ends"
        assert mine[-1]["event"] == "gave_up" and "model call failed" in mine[-1]["error"]
    assert s.summary()["actions"] == 0


def test_a_429_then_success_is_retried_with_the_same_request(fresh: ModelServer, tmp_path) -> None:
    s, rows = _faulty_turn(fresh, tmp_path, rate_429=0.5)
    assert any(r["fault"] == "rate_limited" for r in rows), "with seed 1 some requests are refused"
    for aid in s.agents:
        mine = [r for r in rows if r["agent_id"] == aid and r["event"] == "call"]
        assert mine[-1]["fault"] is None or len(mine) == 3
        assert len({r["request_hash"] for r in mine if r["attempt"] == 1}) == 1, "a retry resends the same request"


@pytest.mark.parametrize("kind", ["malformed", "refusal", "empty", "invalid"])
def test_answer_faults_are_recorded_and_repaired(fresh: ModelServer, tmp_path, kind) -> None:
    s, rows = _faulty_turn(fresh, tmp_path, **{kind: 1.0})
    sellers = [a for a in s.agents.values() if a.role == "seller"]
    for agent in sellers:
        mine = [r for r in rows if r["agent_id"] == agent.id and r["event"] == "call"]
        assert mine[0]["fault"] == kind and kind in agent.last_turn["faults"]
        assert len(mine) == 3 or mine[-1]["fault"] is None, "the loop asks again, a bounded number of times"
        assert len(mine) <= 3
    if kind == "invalid":
        # the repair turn is not faulted (invalid applies to first answers): the sellers' listings go through
        assert s.summary()["actions"] >= len(sellers) and "price_bounds" not in s.summary()["rejections"]
    if kind in ("refusal", "empty"):
        assert s.summary()["actions"] == 0
        assert all(r["fault"] == "gave_up" for r in rows if r["event"] == "gave_up")


def test_server_control_and_stats_endpoints(fresh: ModelServer) -> None:
    req = urllib.request.Request(
        f"http://127.0.0.1:{fresh.port}/control/faults",
        data=b'{"rate_500": 0.25}',
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(req) as resp:
        assert json.load(resp)["rate_500"] == 0.25
    assert fresh.faults.rate_500 == 0.25
    bad = urllib.request.Request(
        f"http://127.0.0.1:{fresh.port}/control/faults",
        data=b'{"nope": 1}',
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(bad)
    assert err.value.code == 400
    with urllib.request.urlopen(f"http://127.0.0.1:{fresh.port}/stats") as resp:
        assert "peak_in_flight" in json.load(resp)


def test_server_refuses_non_loopback_addresses() -> None:
    with pytest.raises(ValueError, match="loopback"):
        ModelServer(host="0.0.0.0")
    with pytest.raises(ValueError, match="latency_dist"):
        ServerFaults(latency_dist="pareto:1").delay(__import__("random").Random(0))


def test_latency_is_fixed_or_drawn_from_a_distribution() -> None:
    import random

    rng = random.Random(3)
    assert ServerFaults(latency=0.25).delay(rng) == 0.25
    uniform = [ServerFaults(latency_dist="uniform:0.1,0.3").delay(rng) for _ in range(200)]
    assert all(0.1 <= x <= 0.3 for x in uniform) and max(uniform) - min(uniform) > 0.1
    exp = [ServerFaults(latency_dist="exp:0.2").delay(rng) for _ in range(2000)]
    assert 0.15 < sum(exp) / len(exp) < 0.25 and min(exp) >= 0
    assert all(x >= 0 for x in (ServerFaults(latency_dist="normal:0.05,0.1").delay(rng) for _ in range(200)))


def test_drawn_latency_is_applied_by_the_server(fresh: ModelServer) -> None:
    fresh.faults = ServerFaults(latency_dist="uniform:0.05,0.1")
    s = _session(fresh, rounds=1, n_buyers=1, n_sellers=1)
    latencies: list[float] = []
    s.hooks.round_end.append(lambda sess, log: latencies.extend(r["latency_ms"] for r in log.batch.rows["llm_calls"]))
    s.run()
    assert len(latencies) >= 2 and all(x >= 50 for x in latencies), latencies
