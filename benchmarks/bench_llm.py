"""LLM agents: concurrency efficiency, CPU per decision, prompt tokens per decision.

Run: .venv/bin/python benchmarks/bench_llm.py [concurrency|cap|cpu|lean|profile|tokens|graph|all]

- concurrency: 1,000 LLM agents against the loopback stand-in server (a separate process) with
  a fixed 1 s latency and at most 64 calls in flight, every agent calling every round, after a
  warm-up run of 2 agents; efficiency = ideal round time (ceil(calls / cap) x latency) /
  measured round time, per round.
- cpu: process CPU seconds of the agents' process (the graph, litellm over HTTP, the protocol
  check, the record in SQLite with tracing) divided by model calls, at 0 ms model latency, every
  agent calling every round (1,000 calls a run); ``--repeats`` runs of each path, alternating,
  and their median; the server runs in another process and is not counted.
- tokens: prompt tokens per decision at 10, 100 and 1,000 agents (mean, median, max of the first attempt
  of each turn, and of all attempts of a turn), and per completed transaction, counted by the stand-in
  with the gpt-4o-mini tokenizer, tool definitions included.
- lean: CPU per model call with litellm on the event loop (``agents.llm.lite.acompletion_on_loop``)
  and through ``litellm.acompletion``, alternating in one process (3 pairs).
- profile: one ``cpu`` run of the ``openai/`` path under cProfile, self time per model call by package
  (litellm, the OpenAI SDK, httpx, aiohttp, LangGraph, Agora...), in the event loop's thread.
- cap: the concurrency round (one, 1,000 calls) with the cap taken in the HTTP transport and
  around the whole litellm call, alternating in one process (the gate switched off for the second).
The model is the stand-in (not a language model) throughout.
"""

from __future__ import annotations

import argparse
import inspect
import json
import math
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from typing import Any

from agents.llm import LLMAgent
from agents.llm.budget import pools_of
from sandbox import Session


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """The stand-in server in its own process."""

    def __init__(self, *flags: str) -> None:
        self.port = free_port()
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "from sandbox.cli import main; main()",
                "model-server",
                "--port",
                str(self.port),
                *flags,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.time() + 120
        while time.time() < deadline:
            try:
                self.stats()
                break
            except OSError:
                time.sleep(0.3)
        else:
            self.proc.kill()
            raise RuntimeError("the stand-in server did not start")
        body = json.dumps({"model": "zi_c", "messages": [{"role": "user", "content": "warm"}]}).encode()
        req = urllib.request.Request(
            f"{self.url}/chat/completions", data=body, headers={"Content-Type": "application/json"}
        )
        urllib.request.urlopen(req, timeout=120).read()  # tokenizer loaded before timing

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def stats(self) -> dict[str, Any]:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/stats", timeout=5) as r:
            return json.load(r)

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


def population(n: int, rounds: int, store: str | None = None, **kw: Any) -> Session:
    s = Session(seed=1, rounds=rounds, store=store)
    s.spawn(LLMAgent, n=n // 2, role="buyer", budget=400, value=(40, 160), demand=2, persona="bargain_hunter", **kw)
    s.spawn(LLMAgent, n=n - n // 2, role="seller", cost=(20, 120), capacity=4, persona="honest_seller", **kw)
    return s


def round_timer(s: Session) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    state: dict[str, float] = {}

    def start(session: Session, log: Any) -> None:
        state["t0"], state["c0"] = time.perf_counter(), time.process_time()

    def end(session: Session, log: Any) -> None:
        lat = sorted(r["latency_ms"] for r in log.batch.rows.get("llm_calls", []) if r["event"] == "call")
        calls = len(lat)
        peak = max((p.peak_in_flight for p in pools_of(session.shared).values()), default=0)
        rows.append(
            {
                "round": log.round,
                "seconds": time.perf_counter() - state["t0"],
                "calls": calls,
                "peak": peak,
                "cpu": time.process_time() - state["c0"],
                "lat_mean": statistics.mean(lat) / 1000 if lat else 0.0,
                "lat_p95": lat[int(0.95 * (len(lat) - 1))] / 1000 if lat else 0.0,
            }
        )

    s.hooks.round_start.append(start)
    s.hooks.after_commit.append(end)
    return rows


def bench_concurrency(
    n: int = 1000, cap: int = 64, latency: float = 1.0, rounds: int = 3, base_handler: bool = False
) -> None:
    os.environ["EXPERIMENTAL_OPENAI_BASE_LLM_HTTP_HANDLER"] = "true" if base_handler else "false"
    srv = Server("--latency", str(latency))
    try:
        kw: dict[str, Any] = {
            "model": "openai/gpt-4o-mini",
            "api_base": srv.url,
            "api_key": "stand-in",
            "max_in_flight": cap,
            "timeout": 120,
            "wake": "every_round",  # every agent calls every round: the goal's shape (1,000 calls a round)
        }
        population(2, 1, **kw).run()  # imports litellm and LangGraph and opens a connection: not a round's time
        s = population(n, rounds, **kw)
        rows = round_timer(s)
        s.run()
        path = ", litellm's base HTTP handler" if base_handler else ", litellm through the OpenAI SDK"
        print(f"concurrency: {n} LLM agents, latency {latency:.1f} s, cap {cap} calls in flight{path}")
        for r in rows:
            ideal = math.ceil(r["calls"] / cap) * latency
            print(
                f"  round {r['round']}: {r['calls']} calls, measured {r['seconds']:.2f} s, ideal {ideal:.1f} s, "
                f"efficiency {ideal / r['seconds']:.3f}; peak in flight {r['peak']}; "
                f"agents' process CPU {r['cpu']:.1f} s; call time (after the cap) mean {r['lat_mean']:.2f} s, "
                f"p95 {r['lat_p95']:.2f} s"
            )
        ideal_n = math.ceil(n / cap) * latency  # round 1 also opens the connections
        print(
            f"  ideal by the issue's formula ceil(N/cap) x latency = {ideal_n:.1f} s; "
            f"server peak in flight {srv.stats()['peak_in_flight']}; load average {os.getloadavg()[0]:.1f} "
            f"on {os.cpu_count()} cores"
        )
    finally:
        os.environ.pop("EXPERIMENTAL_OPENAI_BASE_LLM_HTTP_HANDLER", None)
        srv.close()


def bench_cap(n: int = 1000, cap: int = 64, pairs: int = 2) -> None:
    """The concurrency round with the cap in the HTTP transport and around the whole litellm call, alternating.

    One process, so both see the same load: "around" switches the transport's gate off
    (``agents.llm.model_call.gated_client`` answers None, this process only), which is how
    every call took its place before the gate.
    """
    from agents.llm import model_call

    gated = model_call.gated_client

    async def around(settings: Any, pool: Any) -> None:
        return None

    srv = Server("--latency", "1.0")
    try:
        kw = {"model": "openai/gpt-4o-mini", "api_base": srv.url, "api_key": "stand-in", "max_in_flight": cap}
        kw["wake"] = "every_round"
        print(f"cap: {n} LLM agents, 1 s latency, cap {cap}, one round, the two ways alternating")
        for i in range(2 * pairs):
            name = ("around litellm", "in the transport")[(i + i // 2) % 2]
            model_call.gated_client = around if name == "around litellm" else gated  # type: ignore[assignment]
            population(2, 1, **kw).run()  # imports and a first connection: not the round's time
            s = population(n, 1, **kw)
            t0 = time.perf_counter()
            s.run()
            wall = time.perf_counter() - t0
            ideal = math.ceil(n / cap) * 1.0
            print(
                f"  cap {name}: {wall:.2f} s, ideal {ideal:.1f} s, ideal / measured {ideal / wall:.3f}; "
                f"load average {os.getloadavg()[0]:.2f}",
                flush=True,
            )
    finally:
        model_call.gated_client = gated  # type: ignore[assignment]
        srv.close()


CPU_VARIANTS = (
    ("openai/gpt-4o-mini", False),  # litellm through the OpenAI SDK (the default path)
    ("openai/gpt-4o-mini", True),  # litellm's own HTTP handler: EXPERIMENTAL_OPENAI_BASE_LLM_HTTP_HANDLER=true
    ("hosted_vllm/gpt-4o-mini", False),
)


def bench_cpu(n: int = 200, rounds: int = 5, repeats: int = 5) -> None:
    """CPU per model call, every agent calling every round; the paths alternate within each repeat."""
    srv = Server()
    figures: dict[tuple[str, bool], list[float]] = {v: [] for v in CPU_VARIANTS}
    print(
        f"cpu: {n} LLM agents x {rounds} rounds, every agent calling every round, over HTTP at 0 ms latency, "
        f"SQLite record and tracing on; {repeats} repeats, the paths alternating"
    )
    try:
        with tempfile.TemporaryDirectory() as d:
            for rep in range(repeats):
                order = CPU_VARIANTS if rep % 2 == 0 else tuple(reversed(CPU_VARIANTS))
                for model, base_handler in order:
                    os.environ["EXPERIMENTAL_OPENAI_BASE_LLM_HTTP_HANDLER"] = "true" if base_handler else "false"
                    kw = {"model": model, "api_base": srv.url, "api_key": "stand-in", "wake": "every_round"}
                    population(10, 1, f"{d}/warm{rep}.db", **kw).run()
                    s = population(n, rounds, f"{d}/cpu{rep}-{model.split('/')[0]}{base_handler}.db", **kw)
                    c0 = time.process_time()
                    s.run()
                    cpu = time.process_time() - c0
                    calls = sum(a.spend.calls for a in s.agents.values())
                    figures[(model, base_handler)].append(cpu / calls * 1000)
                    path = " with litellm's base HTTP handler" if base_handler else ""
                    print(
                        f"  repeat {rep + 1}: {model}{path}: {calls} model calls, {cpu:.2f} CPU s, "
                        f"{cpu / calls * 1000:.2f} ms per call; load average {os.getloadavg()[0]:.1f}",
                        flush=True,
                    )
        for (model, base_handler), xs in figures.items():
            path = " with litellm's base HTTP handler" if base_handler else ""
            print(
                f"  {model}{path}: CPU per model call median {statistics.median(xs):.2f} ms "
                f"(min {min(xs):.2f}, max {max(xs):.2f}, {len(xs)} repeats)"
            )
    finally:
        os.environ.pop("EXPERIMENTAL_OPENAI_BASE_LLM_HTTP_HANDLER", None)
        srv.close()


def bench_lean(n: int = 200, rounds: int = 5, pairs: int = 3) -> None:
    """CPU per model call with litellm's calls on the event loop and through ``litellm.acompletion``, alternating.

    One process, so both see the same load: "litellm.acompletion" makes ``agents.llm.lite.on_loop_fits``
    answer no (this process only), which is how every call went before: litellm's worker thread,
    its success logging and its cost calculator on every call.
    """
    from agents.llm import lite

    fits = lite.on_loop_fits
    srv = Server()
    figures: dict[str, list[float]] = {"litellm.acompletion": [], "on the loop": []}
    print(
        f"lean: {n} LLM agents x {rounds} rounds, every agent calling, openai/ over HTTP at 0 ms, "
        "litellm on the event loop or through litellm.acompletion, alternating"
    )
    try:
        with tempfile.TemporaryDirectory() as d:
            kw = {"model": "openai/gpt-4o-mini", "api_base": srv.url, "api_key": "stand-in", "wake": "every_round"}
            for i in range(2 * pairs):
                name = ("litellm.acompletion", "on the loop")[(i + i // 2) % 2]
                lite.on_loop_fits = (lambda model, kwargs: False) if name == "litellm.acompletion" else fits  # type: ignore[assignment]
                population(10, 1, f"{d}/warm{i}.db", **kw).run()
                s = population(n, rounds, f"{d}/lean{i}.db", **kw)
                c0 = time.process_time()
                s.run()
                cpu = time.process_time() - c0
                calls = sum(a.spend.calls for a in s.agents.values())
                figures[name].append(cpu / calls * 1000)
                print(
                    f"  {name}: {calls} model calls, {cpu / calls * 1000:.2f} ms CPU per call; "
                    f"load average {os.getloadavg()[0]:.1f}",
                    flush=True,
                )
        a, b = statistics.median(figures["on the loop"]), statistics.median(figures["litellm.acompletion"])
        print(f"  medians: on the loop {a:.2f} ms, litellm.acompletion {b:.2f} ms, ratio {a / b:.3f}")
    finally:
        lite.on_loop_fits = fits  # type: ignore[assignment]
        srv.close()


PROFILE_GROUPS = {
    "litellm": "litellm",
    "openai": "OpenAI SDK",
    "httpx": "httpx / httpcore",
    "httpcore": "httpx / httpcore",
    "aiohttp": "aiohttp",
    "langgraph": "LangGraph",
    "langchain_core": "LangGraph",
    "pydantic": "pydantic",
    "pydantic_core": "pydantic",
    "sqlalchemy": "SQLAlchemy / sqlite3",
    "opentelemetry": "OpenTelemetry",
    "agents": "Agora",
    "sandbox": "Agora",
    "protocols": "Agora",
    "traces": "Agora",
}


def _group(filename: str) -> str:
    """Which package a profiled function belongs to."""
    if filename.startswith("~") or filename.startswith("<"):
        return "builtins and C code"
    if "site-packages/" in filename:
        return PROFILE_GROUPS.get(filename.split("site-packages/", 1)[1].split("/", 1)[0], "other packages")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    if filename.startswith(root + os.sep):
        return PROFILE_GROUPS.get(os.path.relpath(filename, root).split(os.sep, 1)[0], "Agora")
    if "/asyncio/" in filename:
        return "asyncio"
    if "sqlite3" in filename:
        return "SQLAlchemy / sqlite3"
    return "Python stdlib"


def bench_profile(n: int = 200, rounds: int = 5) -> None:
    """Where a model call's CPU goes: one ``cpu`` run (``openai/`` through the OpenAI SDK) under cProfile.

    Self time grouped by package. cProfile sees the thread that runs the event loop only: work
    that litellm hands to worker threads (``litellm.acompletion``'s request preparation, on paths
    ``agents.llm.lite.on_loop_fits`` does not take) is not in it.
    """
    import cProfile
    import pstats

    srv = Server()
    try:
        with tempfile.TemporaryDirectory() as d:
            kw = {"model": "openai/gpt-4o-mini", "api_base": srv.url, "api_key": "stand-in", "wake": "every_round"}
            population(10, 1, f"{d}/warm.db", **kw).run()
            s = population(n, rounds, f"{d}/prof.db", **kw)
            prof = cProfile.Profile(time.process_time)  # CPU time, not wall
            c0 = time.process_time()
            prof.enable()
            s.run()
            prof.disable()
            cpu = time.process_time() - c0
        calls = sum(a.spend.calls for a in s.agents.values())
        raw: Any = pstats.Stats(prof).stats  # type: ignore[attr-defined]
        neutral = {"builtins and C code", "Python stdlib", "pydantic", "asyncio"}
        owners: dict[Any, str] = {}

        def owner(func: Any, seen: frozenset[Any] = frozenset()) -> str:
            """A function's package; C, stdlib and pydantic code count for the package that called it most."""
            if func in owners:
                return owners[func]
            g = _group(func[0])
            callers = raw.get(func, (0, 0, 0, 0, {}))[4]
            if g in neutral and callers and func not in seen:
                top = max(callers, key=lambda c: callers[c][3] if isinstance(callers[c], tuple) else 0)
                up = owner(top, seen | {func})
                g = up if up not in neutral or g in ("builtins and C code",) else g
            owners[func] = g
            return g

        groups: dict[str, float] = {}
        for func, (_cc, _nc, tt, _ct, _callers) in raw.items():
            g = owner(func)
            groups[g] = groups.get(g, 0.0) + tt
        total = sum(groups.values())
        print(
            f"profile: openai/gpt-4o-mini, {n} agents x {rounds} rounds, {calls} model calls, "
            f"{cpu / calls * 1000:.2f} ms CPU per call under cProfile (its overhead included); "
            f"CPU self time by package (C, stdlib and pydantic code counted for the package calling it), the event "
            f"loop's thread; load average {os.getloadavg()[0]:.1f}"
        )
        for g, t in sorted(groups.items(), key=lambda kv: -kv[1]):
            if t > 0:
                print(f"  {g:22s} {100 * t / total:5.1f} %")
        print("  (cProfile's own cost, a clock read per function call, weighs most on code made of many small calls)")
    finally:
        srv.close()


def _stats(xs: list[int]) -> str:
    return f"mean {statistics.mean(xs):.0f}, median {statistics.median(xs):.0f}, max {max(xs)}"


def bench_tokens(sizes: tuple[int, ...] = (10, 100, 1000), rounds: int = 8) -> None:
    print(
        f"tokens: prompt tokens per decision, {rounds} rounds, half buyers and half sellers, in-process stand-in, "
        "gpt-4o-mini tokenizer, tool definitions included"
    )
    for n in sizes:
        s = population(n, rounds)
        first: list[int] = []
        per_turn: dict[tuple[int, str], int] = {}

        def grab(sess: Session, log: Any, first: list[int] = first, per_turn: dict = per_turn) -> None:
            for r in log.batch.rows.get("llm_calls", []):
                if r["event"] != "call":
                    continue
                if r["attempt"] == 1:
                    first.append(r["prompt_tokens"])
                key = (log.round, r["agent_id"])
                per_turn[key] = per_turn.get(key, 0) + r["prompt_tokens"]

        s.hooks.round_end.append(grab)
        result = s.run()
        deals = result.summary["transactions"]
        total = sum(per_turn.values())
        per_deal = (
            f"{total / deals:,.0f} prompt tokens per completed transaction ({deals} transactions)"
            if deals
            else "no completed transaction"
        )
        print(f"  {n:>5} agents: first attempt {_stats(first)} over {len(first)} decisions")
        print(f"  {'':>5}         all attempts of a turn {_stats(list(per_turn.values()))}; {per_deal}")


def _direct_turn(gm: Any, ctx: Any) -> Any:
    """The turn's nodes run by a plain loop (what the graph does, without LangGraph), for comparison."""
    from types import SimpleNamespace

    rt = SimpleNamespace(context=ctx)
    state: dict[str, Any] = {"messages": [], "actions": [], "faults": []}

    def merge(update: dict[str, Any]) -> None:
        for k, v in update.items():
            state[k] = state.get(k, []) + v if k in ("messages", "actions", "faults") else v

    async def run(out: Any) -> dict[str, Any]:
        return await out if inspect.isawaitable(out) else out  # nodes may be plain functions in older trees

    async def go() -> dict[str, Any]:
        merge(await gm.call(state, rt))
        while state.get("status") != "end":
            merge(await run(gm.call(state, rt) if state["status"] == "call" else gm.check(state, rt)))
        return state

    return go()


def bench_graph(turns: int = 2000) -> None:
    """The LangGraph graph's own CPU per turn: the same nodes, run by the graph and by a plain loop.

    The model is a no-op that answers one accepted tool call, so the figure is the graph's
    bookkeeping plus the nodes (prompt, parse, check); the difference is what LangGraph costs.
    """
    import asyncio

    import agents.llm.graph as gm
    from agents.llm.budget import CallPool
    from agents.llm.model_call import CallLog, CallSettings
    from agents.llm.prompt import Memory
    from protocols.verdict import Verdict
    from sandbox.observe import Observer

    answer = {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {"id": "c0", "type": "function", "function": {"name": "request_quote", "arguments": '{"listing_id": "L1"}'}}
        ],
    }

    async def no_model(*args: Any, **kw: Any) -> tuple[dict[str, Any], None]:
        return answer, None

    gm.call_model = no_model  # this process only: the benchmark's fake model
    s = population(10, 1)
    observer = Observer(s.market, s.protocol.config, s.policy.model_dump(), s.scenario.rounds, s.limits)
    obs = observer.observe(s.market.members["buyer-000"], ())
    agent = s.agents["buyer-000"]
    pool = CallPool(64)

    def ctx() -> Any:
        return gm.TurnContext(
            obs=obs,
            check=lambda a: Verdict.accept(),
            settings=CallSettings(model="none"),
            log=CallLog("buyer-000"),
            pool=pool,
            tools=[],
            persona=agent.persona.name,
            persona_text=agent.persona.instructions,
            memory=Memory(),
            max_answers=3,
            max_actions=8,
        )

    graph = gm.turn_graph()

    async def by_graph() -> None:
        for _ in range(turns):
            out = await graph.ainvoke({}, context=ctx())
            assert out["end_reason"] == "done", out.get("end_reason")

    async def by_loop() -> None:
        for _ in range(turns):
            out = await _direct_turn(gm, ctx())
            assert out["end_reason"] == "done", out.get("end_reason")

    figures = {}
    for name, fn in (("graph", by_graph), ("loop", by_loop), ("graph ", by_graph), ("loop ", by_loop)):
        c0 = time.process_time()
        asyncio.run(fn())
        figures[name.strip()] = (time.process_time() - c0) / turns * 1000  # the second pass of each is kept
    g, d = figures["graph"], figures["loop"]
    print(f"graph: {turns} turns (prompt, one answer with one tool call, parse, check), no model")
    print(
        f"  LangGraph graph {g:.3f} ms CPU per turn, the same nodes in a plain loop {d:.3f} ms: "
        f"the graph's own cost {g - d:.3f} ms per turn; load average {os.getloadavg()[0]:.1f}"
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument(
        "which",
        nargs="?",
        default="all",
        choices=["concurrency", "cap", "cpu", "lean", "profile", "tokens", "graph", "all"],
    )
    ap.add_argument("--base-handler-only", action="store_true", help="concurrency: only litellm's base HTTP handler")
    ap.add_argument("--repeats", type=int, default=5, help="cpu: runs of each path (the median is printed)")
    a = ap.parse_args()
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    if a.which in ("tokens", "all"):
        bench_tokens()
    if a.which in ("graph", "all"):
        bench_graph()
    if a.which in ("cpu", "all"):
        bench_cpu(repeats=a.repeats)
    if a.which == "cap":
        bench_cap()
    if a.which == "profile":
        bench_profile()
    if a.which == "lean":
        bench_lean()
    if a.which in ("concurrency", "all"):
        if not a.base_handler_only:
            bench_concurrency(base_handler=False)
        bench_concurrency(base_handler=True)


if __name__ == "__main__":
    main()
