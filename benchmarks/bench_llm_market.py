"""The LLM market at the peer's shape: cost per completed transaction, and concurrency.

Run: .venv/bin/python benchmarks/bench_llm_market.py [market|concurrency|all] [flags]

- market: 100 LLM buyers and 300 LLM sellers in a services market (the shape of Microsoft's
  Magentic Marketplace runs), every model call answered over loopback HTTP by the stand-in
  server (``agora model-server``, a separate process) with 200 ms latency, at most 64 calls in
  flight. The run stops when every buyer's demand settled or after ``--rounds`` rounds. Prints
  per completed transaction: wall seconds, model requests, prompt tokens (the stand-in's
  tokenizer count, tools included, and chars/4 of the message text as the peer counts),
  CPU seconds (the agents' process; the server's apart), the peak of calls in flight; then how
  many buyers' demand settled and the allocative efficiency.
- concurrency: 1,000 LLM agents at 1 s latency, cap 64, one round in which every agent calls
  (wake="every_round"): ideal round time (ceil(calls / cap) x latency) / measured round time,
  after a warm-up run of 2 agents (imports and the first connection are not the round's time).

Quick forms: ``--buyers 20 --sellers 60 --rounds 8`` and ``concurrency --agents 200``.
``--every-round --substeps 0`` plays the old loop (every agent a model turn every round).
The model is the stand-in (not a language model) throughout; figures depend on the machine's
load, which is printed with them.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from bench_llm import Server  # noqa: E402  (the stand-in server in its own process)

from agents.llm import LLMAgent  # noqa: E402
from agents.llm.budget import pools_of  # noqa: E402
from sandbox import Session  # noqa: E402
from sandbox.scenario import Scenario  # noqa: E402


def _cpu_of(pid: int) -> float:
    """CPU seconds (user + system) of another process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _text_chars(messages_json: str) -> int:
    return sum(len(str(m.get("content") or "")) for m in json.loads(messages_json))


def market_session(a: argparse.Namespace, url: str) -> Session:
    """The peer-shaped market: buyers want one unit each; sellers have costs and some capacity."""
    scenario = Scenario(name="llm-market", seed=a.seed, rounds=a.rounds)
    scenario.market.offer_rounds = 3
    scenario.market.delivery_rounds = 3
    scenario.market.report_rounds = 3
    # a seller answering its customers needs two actions each (accept, deliver)
    scenario.market.max_actions_per_round = 2 * a.max_actions
    if hasattr(scenario.market, "max_substeps"):
        scenario.market.max_substeps = a.substeps
    s = Session(scenario)
    kw: dict[str, Any] = {
        "model": "openai/gpt-4o-mini",
        "api_base": url,
        "api_key": "stand-in",
        "max_in_flight": a.cap,
        "timeout": 120,
        "max_actions": a.max_actions,
    }
    if a.every_round:
        kw["wake"] = "every_round"
    # Each buyer wants one unit of one of a few kinds of service (as the peer's customers each want
    # their own order); sellers offer one kind each and can serve several customers.
    for k in range(a.services):
        share = slice(k * a.buyers // a.services, (k + 1) * a.buyers // a.services)
        sellers = (k + 1) * a.sellers // a.services - k * a.sellers // a.services
        service = f"service-{k}"
        s.spawn(
            LLMAgent,
            n=share.stop - share.start,
            role="buyer",
            service=service,
            budget=400,
            value=(60, 160),
            demand=1,
            persona="bargain_hunter",
            **kw,
        )
        s.spawn(
            LLMAgent,
            n=sellers,
            role="seller",
            service=service,
            cost=(20, 100),
            capacity=a.capacity,
            persona="honest_seller",
            **kw,
        )
    return s


def bench_market(a: argparse.Namespace) -> None:
    srv = Server("--latency", str(a.latency))
    try:
        warm = argparse.Namespace(**{**vars(a), "buyers": 2, "sellers": 2, "services": 1, "rounds": 1})
        market_session(warm, srv.url).run()  # imports litellm and LangGraph, opens connections: not timed
        s = market_session(a, srv.url)
        calls = {"requests": 0, "tokens": 0, "chars": 0, "answered_nothing": 0, "peak": 0, "waits": 0}

        def tally(session: Session, log: Any) -> None:
            for r in log.batch.rows.get("llm_calls", []):
                if r["event"] != "call":
                    continue
                calls["requests"] += 1
                calls["tokens"] += r["prompt_tokens"]
                calls["chars"] += _text_chars(r["messages_json"])
            calls["peak"] = max([calls["peak"], *(p.peak_in_flight for p in pools_of(session.shared).values())])

        s.hooks.round_end.append(tally)
        buyers = [m for m in s.market.members.values() if m.role == "buyer"]

        def settled() -> int:
            return sum(1 for m in buyers if m.units_settled >= m.private.demand)

        print(
            f"market: {a.buyers} LLM buyers, {a.sellers} LLM sellers, stand-in server at {a.latency:.2f} s latency, "
            f"cap {a.cap}, {a.services} services, seller capacity {a.capacity}, {a.max_actions} actions per turn, "
            f"at most {a.rounds} rounds, "
            f"sub-steps {a.substeps}, "
            f"{'every agent every round' if a.every_round else 'turns only when something happened'}",
            flush=True,
        )
        srv_cpu0 = _cpu_of(srv.proc.pid)
        c0, t0 = time.process_time(), time.perf_counter()

        async def play() -> None:
            while s.round < a.rounds and settled() < len(buyers):
                r0 = time.perf_counter()
                await s.astep()
                h = s.history[-1]
                print(
                    f"  round {s.round}: {time.perf_counter() - r0:.1f} s, {h['actions']} actions, "
                    f"{h.get('turns', '-')} turns, {h.get('waits', '-')} waits, {h.get('substeps', '-')} sub-steps, "
                    f"{s.totals.n_tx} transactions so far, {settled()} buyers settled, "
                    f"{calls['requests']} model requests so far",
                    flush=True,
                )
            s.tracer.end_run()

        import asyncio

        asyncio.run(play())
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        srv_cpu = _cpu_of(srv.proc.pid) - srv_cpu0
        n = s.totals.n_tx
        summary = s.summary()
        print(f"  {s.round} rounds, {n} completed transactions, {wall:.1f} wall s, {cpu:.1f} CPU s (agents' process)")
        if n:
            print(
                f"  per completed transaction: wall {wall / n:.3f} s, model requests {calls['requests'] / n:.1f}, "
                f"prompt tokens {calls['tokens'] / n:,.0f} (chars/4 of message text {calls['chars'] / 4 / n:,.0f}), "
                f"CPU {cpu / n:.3f} s (server {srv_cpu / n:.3f} s), peak calls in flight {calls['peak']} "
                f"(server saw {srv.stats()['peak_in_flight']})"
            )
        eff = summary["efficiency"]
        print(
            f"  buyers whose demand settled: {settled()} of {len(buyers)}; "
            f"efficiency {eff:.3f}" + ("" if eff is not None else "")
        )
        print(f"  load average {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} cores")
    finally:
        srv.close()


def bench_concurrency(a: argparse.Namespace) -> None:
    srv = Server("--latency", "1.0")
    try:
        kw = {"model": "openai/gpt-4o-mini", "api_base": srv.url, "api_key": "stand-in", "max_in_flight": a.cap}
        kw["wake"] = "every_round"  # every agent calls at once: the concurrency of the call path is measured

        def population(n: int) -> Session:
            s = Session(Scenario(name="llm-concurrency", seed=1, rounds=1))
            s.spawn(
                LLMAgent, n=n // 2, role="buyer", budget=400, value=(40, 160), demand=2, persona="bargain_hunter", **kw
            )
            s.spawn(LLMAgent, n=n - n // 2, role="seller", cost=(20, 120), capacity=4, persona="honest_seller", **kw)
            return s

        population(2).run()  # imports litellm and LangGraph and opens a connection: not the round's time
        s = population(a.agents)
        seen: dict[str, Any] = {"calls": 0, "peak": 0}

        def tally(session: Session, log: Any) -> None:
            seen["calls"] = sum(1 for r in log.batch.rows.get("llm_calls", []) if r["event"] == "call")
            seen["peak"] = max((p.peak_in_flight for p in pools_of(session.shared).values()), default=0)

        s.hooks.round_end.append(tally)
        print(f"concurrency: {a.agents} LLM agents, 1 s latency, cap {a.cap}, one round", flush=True)
        t0 = time.perf_counter()
        s.run()
        measured = time.perf_counter() - t0
        ideal = math.ceil(seen["calls"] / a.cap) * 1.0
        print(
            f"  {seen['calls']} calls, ideal {ideal:.1f} s, measured {measured:.2f} s: ideal / measured "
            f"{ideal / measured:.3f}; peak in flight {seen['peak']} (server {srv.stats()['peak_in_flight']})"
        )
        print(f"  load average {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} cores")
    finally:
        srv.close()


def main() -> None:
    """Parse the flags and run the chosen parts."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("which", nargs="?", default="all", choices=["market", "concurrency", "all"])
    ap.add_argument("--buyers", type=int, default=100)
    ap.add_argument("--sellers", type=int, default=300)
    ap.add_argument("--rounds", type=int, default=20, help="at most this many rounds (stops when every buyer settled)")
    ap.add_argument("--latency", type=float, default=0.2, help="the stand-in server's latency, seconds")
    ap.add_argument("--cap", type=int, default=64, help="calls in flight at most")
    ap.add_argument("--substeps", type=int, default=3, help="sub-steps per round (0: one step per round)")
    ap.add_argument("--every-round", action="store_true", help="every agent a model turn every round (the old loop)")
    ap.add_argument("--services", type=int, default=10, help="kinds of service; buyers and sellers spread evenly")
    ap.add_argument("--capacity", type=int, default=20, help="customers one seller can serve")
    ap.add_argument("--max-actions", type=int, default=20, help="actions per LLM turn (twice that per round)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--agents", type=int, default=1000, help="concurrency: how many LLM agents")
    a = ap.parse_args()
    if a.which in ("market", "all"):
        bench_market(a)
    if a.which in ("concurrency", "all"):
        bench_concurrency(a)


if __name__ == "__main__":
    main()
