"""``agora traces RUN``: a run's trace summary in the terminal.

Counts by operation, model tokens by agent, rejections by rule, the slowest spans, and the
started / ended / stored counts the run checked when it ended. The model calls of a round
not committed yet (a run in progress, or killed mid-round) come first, from the journal.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from protocols import semconv as sc
from sandbox.cli.common import DbOpt, app, console, fail
from traces import read, trace_read
from traces.llm_calls import journal
from traces.store import DEFAULT_DB, Store, StoreError


def _ms(ns: int) -> str:
    return f"{ns / 1e6:.3f} ms"


def in_progress(store: Store, run_id: str, rounds_done: int) -> None:
    """Print the model calls of the round in progress (``llm_call_journal``), if there are any."""
    rows = journal(store, run_id, rounds_done)
    if not rows:
        return
    t = Table(title=f"model calls of round {rounds_done + 1}, in progress (not committed; from the journal)")
    for col in ("agent", "calls", "faults", "input", "output", "cost $"):
        t.add_column(col, justify="left" if col in ("agent", "faults") else "right")
    by_agent: dict[str, list[dict]] = {}
    for r in rows:
        by_agent.setdefault(r["agent_id"], []).append(r)
    for agent, rs in sorted(by_agent.items()):
        faults = sorted({r["fault"] for r in rs if r["fault"]})
        t.add_row(
            agent,
            str(len(rs)),
            ", ".join(faults) or "-",
            str(sum(r["prompt_tokens"] for r in rs)),
            str(sum(r["completion_tokens"] for r in rs)),
            f"{sum(r['cost_usd'] for r in rs):.6f}",
        )
    console.print(t, highlight=False)


@app.command("traces")
def traces_cmd(
    run_id: Annotated[str, typer.Argument(help="The run's id (see the end of `agora run`).")],
    db: DbOpt = DEFAULT_DB,
    slowest: Annotated[int, typer.Option("--slowest", help="How many of the slowest spans to list.")] = 10,
) -> None:
    """Print a run's trace summary: operations, tokens, rejections, slowest spans, span counts."""
    try:
        store = Store(db)
        run = read.run(store, run_id)
    except StoreError as err:
        fail(str(err))
    if run is None:
        fail(f"no run '{run_id}' in {db}; list runs with the UI or check the --db option")
    ops = trace_read.operation_counts(store, run_id)
    in_progress(store, run_id, run.rounds_done)
    if not ops:
        if journal(store, run_id, run.rounds_done):
            return  # killed or still in its first round: its paid calls are all there is
        fail(
            f"run '{run_id}' has no spans in {db}; it ran with tracing off (Session(tracing=False)) or without a store"
        )
    counts = trace_read.span_counts(store, run_id)
    t = Table(title=f"spans of run {run_id} by operation")
    t.add_column("operation")
    t.add_column("spans", justify="right")
    for op, n in ops.items():
        t.add_row(op, str(n))
    t.add_row("[bold]total[/]", f"[bold]{sum(ops.values())}[/]")
    console.print(t)
    if counts is not None:
        state = "[green]nothing lost[/]" if counts.ok else "[bold red]SHORTFALL[/]"
        console.print(
            f"started {counts.started}, ended {counts.ended}, stored {counts.stored}, in the store {counts.in_store}: {state}"
            + (
                f"; OTLP exported {counts.otlp_exported}, failed {counts.otlp_failed}"
                if counts.otlp_exported or counts.otlp_failed
                else ""
            ),
            highlight=False,
        )
    tokens = trace_read.token_usage(store, run_id)
    tt = Table(title="model tokens by agent")
    tt.add_column("agent")
    tt.add_column("input", justify="right")
    tt.add_column("output", justify="right")
    for agent, (i, o) in sorted(tokens.items()):
        tt.add_row(agent or "(none)", str(i), str(o))
    tt.add_row("[bold]total[/]", str(sum(i for i, _ in tokens.values())), str(sum(o for _, o in tokens.values())))
    console.print(tt)
    rej = trace_read.rejections(store, run_id)
    rt = Table(title="rejected submissions by rule")
    rt.add_column("rule")
    rt.add_column("count", justify="right")
    for rule, n in rej.items():
        rt.add_row(rule, str(n))
    if not rej:
        rt.add_row("(none)", "0")
    console.print(rt)
    st = Table(title=f"slowest {slowest} spans (below the session and round spans)")
    for col in ("span", "operation", "agent", "round", "duration"):
        st.add_column(col, justify="right" if col in ("round", "duration") else "left")
    for r in trace_read.slowest(store, run_id, slowest, exclude=(sc.SPAN_SESSION, sc.SPAN_ROUND)):
        st.add_row(r.span_id, r.name, r.agent_id or "", "" if r.round is None else str(r.round), _ms(r.duration_ns))
    console.print(st, highlight=False)
