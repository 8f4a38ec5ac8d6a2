"""The ``agora marketic`` commands: run a society of simple programs, and replay one."""

from __future__ import annotations

from typing import Annotated

import typer
from pydantic import ValidationError
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from sandbox.cli.common import DbOpt, app, console, fail
from traces.store import DEFAULT_DB, Store, StoreError


def _store(db: str) -> Store:
    try:
        store = Store(db)
        _ = store.engine  # connect now so a bad URL fails before the run starts
    except StoreError as err:
        fail(str(err))
    return store


@app.command()
def marketic(
    task: Annotated[str, typer.Option("--task", help="chain, grid or lure.")] = "chain",
    rule: Annotated[str, typer.Option("--rule", help="bucket_brigade, vickrey or ccv.")] = "ccv",
    episodes: Annotated[int, typer.Option("--episodes", help="Episodes to play (one round each).")] = 300,
    clones: Annotated[int, typer.Option("--clones", help="Copies of each primitive.")] = 2,
    seed: Annotated[int, typer.Option("--seed", help="Seed of every random draw.")] = 0,
    endowment: Annotated[float, typer.Option("--endowment", help="Money each primitive starts with.")] = 20.0,
    independent: Annotated[bool, typer.Option("--independent", help="Clones learn separate bid tables.")] = False,
    bidder: Annotated[
        str | None,
        typer.Option("--bidder", help="LLM agents decide the bids with this model, e.g. scripted/marketic_truthful."),
    ] = None,
    db: DbOpt = DEFAULT_DB,
) -> None:
    """Run a market of simple programs on a small task: each state is auctioned to primitives."""
    from sandbox.marketic.record import run_marketic
    from sandbox.marketic.run import MarketicConfig

    try:
        config = MarketicConfig(
            task=task,
            rule=rule,
            episodes=episodes,
            clones=clones,
            seed=seed,
            endowment=endowment,
            shared=not independent,
            bidder=bidder,
        )
    except ValidationError as err:
        fail("; ".join(e["msg"].removeprefix("Value error, ") for e in err.errors()))
    store = _store(db)
    cols = (TextColumn(f"[bold]{config.scenario} episodes"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*cols, console=console) as bar:
        job = bar.add_task("", total=episodes)
        result = run_marketic(config, store, progress=lambda done, total: bar.update(job, completed=done))
    last = result.last
    table = Table(title=f"run {result.run_id}", show_header=False)
    table.add_column("metric", style="bold")
    table.add_column("value", justify="right")
    first = result.first_optimal_episode()
    rows = [
        ("episodes", str(len(result.history))),
        ("optimal from episode", "never" if first is None else str(first)),
        ("greedy return / optimum", f"{last['greedy_return']:.3f} / {last['optimal_return']:.3f}"),
        ("greedy path", " > ".join(last["greedy_path"][:12])),
        ("states with an optimal action", f"{last['policy_accuracy']:.0%}"),
        ("mean |top bid - V*|", f"{last['value_error']:.3f}"),
        ("money minted as subsidy", f"{last['flows'].get('subsidy', 0.0):.2f}"),
        ("broke primitives", str(last["broke"])),
    ]
    for k, v in rows:
        table.add_row(k, v)
    console.print(table)
    bids = Table(title="top bid vs optimal value by state")
    for col in ("state", "greedy action", "top bid", "V*"):
        bids.add_column(col, justify="right")
    for s, v in last["optimal_values"].items():
        bids.add_row(s, last["policy"][s], f"{last['top_bids'][s]:.3f}", f"{v:.3f}")
    console.print(bids)
    console.print(f"record written to [bold]{db}[/] (run id {result.run_id}); check it with agora marketic-replay")


@app.command("marketic-replay")
def marketic_replay(
    run: Annotated[str, typer.Argument(help="Run id of a marketic run.")], db: DbOpt = DEFAULT_DB
) -> None:
    """Re-run a recorded marketic run from its config and compare ledger and bid hashes per episode."""
    from sandbox.marketic.record import replay

    try:
        diffs = replay(_store(db), run)
    except ValueError as err:
        fail(str(err))
    if diffs:
        for d in diffs[:20]:
            console.print(d)
        fail(f"replay of {run} diverged in {len(diffs)} place(s)")
    console.print(f"replay of {run}: identical (every episode's ledger and bids)")
