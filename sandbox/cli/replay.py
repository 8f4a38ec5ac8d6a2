"""The ``agora`` commands over logged runs: replay, fork, resume, compare and sweep."""

from __future__ import annotations

import time
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from sandbox.cli.common import DbOpt, app, console, fail, print_summary
from sandbox.scenario import ScenarioError
from traces.store import DEFAULT_DB, Store, StoreError

HtmlOpt = Annotated[str | None, typer.Option("--html", help="Write a plot to this .html file.")]


def _bar(label: str) -> Progress:
    cols = (TextColumn(f"[bold]{label}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    return Progress(*cols, console=console)


def _open(db: str) -> Store:
    try:
        store = Store(db)
        _ = store.engine
    except StoreError as err:
        fail(str(err))
    return store


@app.command()
def replay(run: Annotated[str, typer.Argument(help="Run id.")], db: DbOpt = DEFAULT_DB) -> None:
    """Re-execute a logged run from its record and check it round by round."""
    from sandbox.replay import ReplayError
    from sandbox.replay import replay as do_replay

    store = _open(db)
    try:
        with _bar("replay") as bar:
            task = bar.add_task("rounds", total=None)
            report = do_replay(run, store, progress=lambda d, t: bar.update(task, completed=d, total=t))
    except ReplayError as err:
        fail(str(err))
    style = "green" if report.identical else "red"
    console.print(
        f"[bold {style}]{report}[/] ({report.seconds:.2f} s, {report.llm_calls_served} LLM calls served from the record)",
        highlight=False,
    )
    if not report.identical:
        raise typer.Exit(1)


@app.command()
def fork(
    run: Annotated[str, typer.Argument(help="Run id of the parent.")],
    round_: Annotated[int, typer.Option("--round", help="Replay rounds 1..K from the record, then branch.")],
    policy: Annotated[
        str | None, typer.Option("--policy", help="YAML/JSON file of policy fields for rounds after K.")
    ] = None,
    live: Annotated[bool, typer.Option("--live", help="After K, LLM agents call their configured models.")] = False,
    db: DbOpt = DEFAULT_DB,
    html: HtmlOpt = None,
) -> None:
    """Fork a run at round K with another policy, and compare it with its parent."""
    from sandbox.replay import ReplayError
    from sandbox.replay import fork as do_fork
    from sandbox.replay.compare import compare_figure, compare_runs, save_figure

    store = _open(db)
    t0 = time.perf_counter()
    try:
        with _bar("fork") as bar:
            task = bar.add_task("rounds", total=None)
            out = do_fork(
                run,
                round_,
                policy,
                store=store,
                live=live,
                progress=lambda d, t: bar.update(task, completed=d, total=t),
            )
    except ReplayError as err:
        fail(str(err))
    print_summary(out.result, time.perf_counter() - t0, db)
    df = compare_runs(store, [run, out.run_id])
    _print_compare(store, df, [run, out.run_id], f"parent vs fork (branched after round {round_})")
    if html:
        save_figure(compare_figure(df, f"fork of {run} after round {round_}", fork_round=round_), html)
        console.print(f"plot written to [bold]{html}[/]")


@app.command()
def resume(run: Annotated[str, typer.Argument(help="Run id of a stopped run.")], db: DbOpt = DEFAULT_DB) -> None:
    """Continue a killed or stopped run from its last committed round."""
    from sandbox.replay import ReplayError
    from sandbox.replay import resume as do_resume

    store = _open(db)
    t0 = time.perf_counter()
    try:
        with _bar("resume") as bar:
            task = bar.add_task("rounds", total=None)
            result = do_resume(run, store, progress=lambda d, t: bar.update(task, completed=d, total=t))
    except (ReplayError, StoreError) as err:  # StoreUnavailable: the store went away again mid-run
        fail(str(err))
    print_summary(result, time.perf_counter() - t0, db)


def _print_compare(store: Store, df: object, runs: list[str], title: str) -> None:
    """Run totals side by side, then the first round whose metrics differ."""
    import json

    from sandbox.replay.compare import first_different_round
    from traces import read

    summaries = {}
    for rid in runs:
        row = read.run(store, rid)
        summaries[rid] = json.loads(row.summary_json) if row is not None and row.summary_json else {}
    table = Table(title=title)
    table.add_column("run total")
    for rid in runs:
        table.add_column(rid, justify="right")
    for key in ("rounds", "transactions", "volume", "mean_price", "surplus", "efficiency", "fees", "fines"):
        table.add_row(key, *(_fmt(summaries[rid].get(key)) for rid in runs))
    console.print(table)
    first = first_different_round(df)
    console.print(
        "per-round metrics never differ" if first is None else f"per-round metrics first differ in round {first}"
    )


def _fmt(v: object) -> str:
    return "-" if v is None or v != v else (f"{v:.3f}" if isinstance(v, float) else str(v))


@app.command()
def compare(
    runs: Annotated[list[str], typer.Argument(help="Two or more run ids.")],
    metrics: Annotated[str | None, typer.Option("--metrics", help="Comma-separated metric names.")] = None,
    db: DbOpt = DEFAULT_DB,
    html: HtmlOpt = None,
) -> None:
    """Compare runs side by side (per-round metrics), optionally as a plot."""
    from sandbox.replay.compare import DEFAULT_METRICS, compare_figure, compare_runs, save_figure

    store = _open(db)
    chosen = tuple(m.strip() for m in metrics.split(",")) if metrics else DEFAULT_METRICS
    df = compare_runs(store, runs, chosen)
    _print_compare(store, df, runs, "runs compared")
    if html:
        save_figure(compare_figure(df, " vs ".join(runs)), html)
        console.print(f"plot written to [bold]{html}[/]")


@app.command()
def sweep(
    spec: Annotated[str, typer.Argument(help="A sweep YAML file.")],
    db: DbOpt = DEFAULT_DB,
    executor: Annotated[str, typer.Option("--executor", help="local (processes) or ray.")] = "local",
    workers: Annotated[int | None, typer.Option("--workers", help="Parallel runs (default: CPU count).")] = None,
    address: Annotated[
        str | None, typer.Option("--address", help="Ray cluster address (default: start Ray locally).")
    ] = None,
    html: HtmlOpt = None,
) -> None:
    """Run a grid of policy parameters times seeds, and summarise it."""
    from sandbox.sweep import load_sweep, run_sweep
    from sandbox.sweep.report import sweep_figure, sweep_table

    if executor not in ("local", "ray"):
        fail(f"unknown executor '{executor}'; use --executor local or --executor ray")
    try:
        sw, scenario = load_sweep(spec)
    except ScenarioError as err:
        fail(str(err))
    store = _open(db)
    t0 = time.perf_counter()
    try:
        with _bar(f"sweep {sw.name}") as bar:
            task = bar.add_task("runs", total=None)
            result = run_sweep(
                sw,
                scenario,
                store=store,
                executor=executor,
                workers=workers,
                address=address,
                progress=lambda d, t: bar.update(task, completed=d, total=t),
            )
    except RuntimeError as err:
        fail(str(err))
    console.print(sweep_table(result))
    failed = [r for r in result.runs if r["status"] != "finished"]
    console.print(
        f"sweep {result.sweep_id}: {len(result.runs)} runs ({len(failed)} failed) in {time.perf_counter() - t0:.1f} s, recorded in {db}"
    )
    for r in failed[:5]:
        console.print(f"[red]failed[/] {r['run_id']}: {r['error']}", highlight=False)
    out = html or f"{result.sweep_id}.html"
    from sandbox.replay.compare import save_figure

    save_figure(sweep_figure(result), out)
    console.print(f"plot written to [bold]{out}[/]")
