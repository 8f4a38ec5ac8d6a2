"""What tracing costs, and proof that it loses nothing.

Run: .venv/bin/python benchmarks/bench_tracing.py [--agents 200] [--rounds 30] [--repeat 3] [--burst 100000] [--db URL]

Prints, measured in one process:
1. the cost of one bare OpenTelemetry SDK span (a provider with no processor), and what the
   switched-off tracer adds per action;
2. a scripted run with a SQLite (or --db) store, tracing on vs off: wall time, per action,
   spans per action, and the per-action tracing cost as a ratio to one bare span;
3. a burst of --burst spans under one run: started, ended, stored, and the time each step took;
4. for contrast, the SDK's BatchSpanProcessor (defaults) exporting the same burst into the store:
   how many spans it kept;
5. the CPU time of each part of a traced action (turn span, submission span, conversion, insert).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Sequence

from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from agents import ZIC
from protocols import semconv as sc
from sandbox import Session
from traces.otel import setup_tracing
from traces.spans import rows_of, stored_count, write_spans
from traces.store import Store


def bare_span_us(n: int = 50_000, clock: object = time.perf_counter) -> float:
    """Mean microseconds (wall, or the given clock) to start and end one SDK span with no processor (best of 3)."""
    tracer = TracerProvider().get_tracer("bare")
    best = float("inf")
    for _ in range(3):
        t0 = clock()  # type: ignore[operator]
        for _ in range(n):
            tracer.start_span("bare").end()
        best = min(best, (clock() - t0) / n * 1e6)  # type: ignore[operator]
    return best


def switched_off_us(n: int = 200_000) -> float:
    """Microseconds the switched-off tracer adds per action: the calls the loop makes into it."""
    from sandbox.tracing import NoTracer

    class _Agent:
        def decide(self, obs):
            return obs

    off, agent = NoTracer(), _Agent()
    t0 = time.perf_counter()
    for i in range(n):
        span = off.submit_start("a")  # one submission
        if span is not None:
            off.submit_end(span, None, None)  # type: ignore[arg-type]
        off.decide(agent, i)  # type: ignore[arg-type]  (one turn, as many as actions here)
    calls = (time.perf_counter() - t0) / n * 1e6
    t0 = time.perf_counter()
    for i in range(n):
        agent.decide(i)
    return calls - (time.perf_counter() - t0) / n * 1e6


def build(agents: int, rounds: int, store: Store, tracing: bool) -> Session:
    s = Session(seed=1, rounds=rounds, store=store, tracing=tracing)
    s.spawn(ZIC, n=agents // 4, role="seller", service="svc", cost=(5, 60), capacity=4)
    s.spawn(ZIC, n=agents - agents // 4, role="buyer", service="svc", budget=500, value=(20, 120), demand=2)
    return s


def timed_run(agents: int, rounds: int, store: Store, tracing: bool) -> tuple[float, int, int, float]:
    s = build(agents, rounds, store, tracing)
    t0, c0 = time.perf_counter(), time.process_time()
    res = s.run()
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    spans = s.tracer.last_counts.stored if tracing else 0
    return wall, res.summary["actions"], spans, cpu


def run_comparison(a: argparse.Namespace, store: Store, bare: float, bare_cpu: float) -> None:
    timed_run(40, 3, store, True)  # warm-up: imports, schema, first validations
    on, off = [], []
    for _ in range(a.repeat):  # alternate so drift in machine load hits both sides alike
        on.append(timed_run(a.agents, a.rounds, store, True))
        off.append(timed_run(a.agents, a.rounds, store, False))
    t_on = statistics.median(x[0] for x in on)
    t_off = statistics.median(x[0] for x in off)
    c_on = statistics.median(x[3] for x in on) / on[0][1] * 1e6
    c_off = statistics.median(x[3] for x in off) / on[0][1] * 1e6
    actions, spans = on[0][1], on[0][2]
    assert all(x[1] == actions for x in on + off), "same seed, same actions"
    per_on, per_off = t_on / actions * 1e6, t_off / actions * 1e6
    print(
        f"\n2. scripted run: {a.agents} ZI-C agents, {a.rounds} rounds, {actions} actions, {spans} spans "
        f"({spans / actions:.2f} per action), store {store.url}, median of {a.repeat}"
    )
    print(f"   wall time  tracing on {t_on:.3f} s   off {t_off:.3f} s   on/off {t_on / t_off:.2f}x")
    print(f"   per action tracing on {per_on:.1f} us   off {per_off:.1f} us   tracing adds {per_on - per_off:.1f} us")
    print(
        f"   per-action cost of the traced run = {per_on / bare:.1f} bare spans; tracing's own share = {(per_on - per_off) / bare:.1f} bare spans"
    )
    print(
        f"   in CPU time: per action on {c_on:.1f} us   off {c_off:.1f} us; traced run = {c_on / bare_cpu:.1f} bare spans, "
        f"tracing's share = {(c_on - c_off) / bare_cpu:.1f} bare spans (bare = {bare_cpu:.1f} us CPU)"
    )


def run_burst(n: int, store: Store) -> None:
    run_id = f"burst-{uuid.uuid4().hex[:8]}"
    run = setup_tracing(store).open_run(run_id)
    tracer = trace.get_tracer("bench.burst")
    t0 = time.perf_counter()
    with tracer.start_as_current_span(sc.SPAN_SESSION, attributes={sc.RUN_ID: run_id}):
        for i in range(n):
            tracer.start_span("burst", attributes={sc.ROUND: i}).end()
    t1 = time.perf_counter()
    counts = run.close()
    t2 = time.perf_counter()
    print(f"\n3. burst of {n} spans (+1 root) under one run, store {store.url}")
    print(
        f"   started {counts.started}  ended {counts.ended}  stored {counts.stored}  in the store {stored_count(store, run_id)}"
    )
    print(
        f"   start+end {t1 - t0:.2f} s ({(t1 - t0) / n * 1e6:.1f} us/span)   convert+write {t2 - t1:.2f} s ({(t2 - t1) / n * 1e6:.1f} us/span)"
    )


class StoreExporter(SpanExporter):
    """An exporter writing into the store, for the BatchSpanProcessor contrast."""

    def __init__(self, store: Store, run_id: str) -> None:
        self.store, self.run_id, self.received = store, run_id, 0

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.received += len(spans)
        write_spans(self.store, self.run_id, rows_of(spans, self.run_id, True))
        return SpanExportResult.SUCCESS


def batch_contrast(n: int, store: Store) -> None:
    run_id = f"batch-{uuid.uuid4().hex[:8]}"
    exporter = StoreExporter(store, run_id)
    provider = TracerProvider()
    processor = BatchSpanProcessor(exporter)
    provider.add_span_processor(processor)
    tracer = provider.get_tracer("bench.batch")
    for _ in range(n):
        tracer.start_span("burst").end()
    provider.shutdown()
    print(f"\n4. contrast: BatchSpanProcessor (SDK defaults) into the same store, {n} spans in a tight loop")
    print(
        f"   exported {exporter.received}, in the store {stored_count(store, run_id)}, dropped {n - exporter.received}"
    )


def breakdown(store: Store, n: int = 4000) -> None:
    """CPU time of each part of a traced action, in bare spans (CPU time is steadier than wall time here)."""
    clock = time.process_time
    bare = TracerProvider().get_tracer("bare")
    tracer = trace.get_tracer("bench.parts")

    def per(f: object, k: int = n) -> float:
        best = float("inf")
        for _ in range(3):
            t0 = clock()
            for _ in range(k):
                f()  # type: ignore[operator]
            best = min(best, (clock() - t0) / k)
        return best

    turn_attrs = {
        sc.GEN_AI_OPERATION: sc.SPAN_AGENT_TURN,
        sc.GEN_AI_AGENT_NAME: "b1",
        sc.GEN_AI_AGENT_ID: "b1",
        sc.AGENT_ID: "b1",
        sc.AGENT_ROLE: "buyer",
        sc.AGENT_KIND: "zi_c",
        sc.ROUND: 3,
    }
    sub_attrs = {
        sc.ACTION_TYPE: "make_offer",
        sc.ACTION_SEQ: 3,
        sc.VERDICT: "accepted",
        sc.VERDICT_RULE: "ok",
        sc.VERDICT_REASON: "accepted",
        sc.ACTION_JSON: '{"type":"make_offer","price":12.5,"listing_id":"L3"}',
        sc.PRICE: 12_500_000,
        sc.LISTING_ID: "L3",
        sc.THREAD_ID: "T4",
        sc.COUNTERPARTY: "s2",
    }

    def turn() -> None:
        with tracer.start_as_current_span("invoke_agent b1", attributes=turn_attrs) as span:
            span.set_attribute(sc.AGENT_ACTIONS, 1)

    def submit() -> None:  # as sandbox.tracing makes it: after the check, every attribute at once
        started = time.time_ns()
        tracer.start_span(
            sc.SPAN_SUBMIT, attributes={sc.AGENT_ID: "b1", sc.ROUND: 3, **sub_attrs}, start_time=started
        ).end()

    run_id = f"parts-{uuid.uuid4().hex[:8]}"
    run = setup_tracing(store).open_run(run_id)
    with tracer.start_as_current_span(sc.SPAN_SESSION, attributes={sc.RUN_ID: run_id}):
        b = per(lambda: bare.start_span("bare").end())
        t_turn = per(turn)
        t_submit = per(submit)
    rows = run._rows(run.pending)  # the router already turned most spans into rows as they ended
    exporter = InMemorySpanExporter()
    side = TracerProvider()
    side.add_span_processor(SimpleSpanProcessor(exporter))
    with side.get_tracer("bench.side").start_as_current_span("turn"):
        for _ in range(800):
            side.get_tracer("bench.side").start_span(
                sc.SPAN_SUBMIT, attributes={sc.AGENT_ID: "b1", sc.ROUND: 3, **sub_attrs}
            ).end()
    spans = exporter.get_finished_spans()
    t_convert = per(lambda: rows_of(spans, run_id, True), 5) / len(spans)
    t0 = clock()
    for i in range(0, len(rows), 800):
        write_spans(store, run_id, rows[i : i + 800])
    t_insert = (clock() - t0) / len(rows)
    run.pending.clear()
    run.tracing.router.unregister(run)  # written by hand above, so no count check here
    print(
        f"\n5. CPU time per part, in bare spans (bare = {b * 1e6:.1f} us CPU): invoke_agent span {t_turn / b:.1f}, "
        f"protocol.submit span {t_submit / b:.1f} (each including its row conversion, {t_convert / b:.1f}), "
        f"insert per row {t_insert / b:.1f}"
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--agents", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=30)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--burst", type=int, default=100_000)
    ap.add_argument("--db", default=None, help="database URL (default: a temporary SQLite file)")
    a = ap.parse_args()
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    bare = bare_span_us()
    bare_cpu = bare_span_us(clock=time.process_time)
    print(f"1. one bare SDK span (no processor): {bare:.2f} us wall, {bare_cpu:.2f} us CPU")
    print(f"   tracing switched off adds {switched_off_us():.3f} us per action (calls into NoTracer)")
    with tempfile.TemporaryDirectory() as d:
        store = Store(a.db or f"{d}/bench.db")
        run_comparison(a, store, bare, bare_cpu)
        run_burst(a.burst, store)
        batch_contrast(a.burst, store)
        breakdown(store)
        store.dispose()


if __name__ == "__main__":
    main()
