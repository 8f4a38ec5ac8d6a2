"""The ``agora`` command: run the demo market, run scenario files, inspect runs."""

from __future__ import annotations

import os
import time
from typing import Annotated, Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import typer
from rich.console import Console
from rich.table import Table

from sandbox.progress import RunProgress
from sandbox.scenario import ScenarioError, load_scenario
from sandbox.session import RunResult, Session
from traces.store import DEFAULT_DB, Store, StoreError, StoreUnavailable

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Agora: a sandbox for markets of LLM agents.")
console = Console()

DbOpt = Annotated[str, typer.Option("--db", help="SQLite file path or database URL.")]
SeedOpt = Annotated[int | None, typer.Option("--seed", help="Seed (default: the scenario's).")]
RoundsOpt = Annotated[int | None, typer.Option("--rounds", help="Rounds (default: the scenario's).")]


def one_line(message: str) -> str:
    """``message`` on one line: several mistakes joined by '; ', control characters escaped."""
    text = "; ".join(part.strip() for part in str(message).splitlines() if part.strip())
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode() for ch in text)


def fail(message: str) -> None:
    """Print one clear sentence on one line of stderr and exit with status 2."""
    typer.echo(f"error: {one_line(message)}", err=True)
    raise typer.Exit(2)


def run_with_progress(session: Session) -> tuple[RunResult, float]:
    """Run a session with a progress bar and the live line of model calls; return the result and wall seconds.

    A store that stays away ends the command with one line on stderr and exit status 3.
    """
    t0 = time.perf_counter()
    try:
        with RunProgress(session, console=console) as bar:  # rounds, and the model calls within a round
            result = session.run(progress=bar.update)
    except StoreUnavailable as err:
        typer.echo(f"error: {one_line(str(err))}", err=True)
        raise typer.Exit(3) from None
    return result, time.perf_counter() - t0


def print_summary(result: RunResult, seconds: float, db: str | None) -> None:
    """The summary table: transactions, volume, efficiency, rejections by reason."""
    s: dict[str, Any] = result.summary
    table = Table(title=f"run {result.run_id}", show_header=False)
    table.add_column("metric", style="bold")
    table.add_column("value", justify="right")
    eff = s["efficiency"]
    rows = [
        ("rounds", s["rounds"]),
        ("agents", s["agents"]),
        ("actions submitted", s["actions"]),
        ("transactions", s["transactions"]),
        ("volume", f"{s['volume']:.2f}"),
        ("mean price", "-" if s["mean_price"] is None else f"{s['mean_price']:.2f}"),
        ("surplus / max", f"{s['surplus']:.2f} / {s['max_surplus']:.2f}"),
        ("allocative efficiency", "-" if eff is None else f"{eff:.1%}"),
        ("fees / fines", f"{s['fees']:.2f} / {s['fines']:.2f}"),
        ("wall time", f"{seconds:.2f} s"),
    ]
    for k, v in rows:
        table.add_row(k, str(v))
    console.print(table)
    print_market(s)
    rej = Table(title="rejections by reason")
    rej.add_column("rule")
    rej.add_column("count", justify="right")
    for rule, n in sorted(s["rejections"].items(), key=lambda kv: -kv[1]):
        rej.add_row(rule, str(n))
    if not s["rejections"]:
        rej.add_row("(none)", "0")
    console.print(rej)
    if s.get("alerts"):
        alerts = Table(title="safety alerts (kind: open / confirmed / dismissed)")
        alerts.add_column("kind")
        alerts.add_column("open / confirmed / dismissed", justify="right")
        for kind, by in sorted(s["alerts"].items()):
            alerts.add_row(kind, " / ".join(str(by.get(k, 0)) for k in ("open", "confirmed", "dismissed")))
        console.print(alerts)
    if db:
        console.print(f"record written to [bold]{db}[/] (run id {result.run_id})")


def print_market(s: dict[str, Any]) -> None:
    """The mechanism's own figures (periods, Bertrand benchmarks, claims), when it has any."""
    extra = s.get("market") or {}
    if not extra:
        return
    table = Table(title=f"{s.get('mechanism', 'market')} mechanism", show_header=False)
    table.add_column("figure", style="bold")
    table.add_column("value", justify="right")
    for key, value in extra.items():
        if key == "periods":
            for p in value:
                eff = "-" if p["efficiency"] is None else f"{p['efficiency']:.1%}"
                table.add_row(f"period {p['period']}", f"{p['trades']} trades, efficiency {eff}")
        else:
            table.add_row(key.replace("_", " "), f"{value:.4f}" if isinstance(value, float) else str(value))
    console.print(table)


def _run(scenario_ref: str, db: str, seed: int | None, rounds: int | None, store_wait: float = 60.0) -> None:
    try:
        scenario = load_scenario(scenario_ref)
        store = Store(db)
        session = Session(scenario, seed=seed, rounds=rounds, store=store, store_wait=store_wait)
    except (ValueError, TypeError) as err:  # ScenarioError, or an agent type refused its parameters
        fail(str(err) if isinstance(err, ScenarioError) else f"{scenario_ref}: {err}")
    try:
        _ = store.engine  # connect now (after every other check) so a bad URL fails before the run starts
    except StoreError as err:
        fail(str(err))
    result, seconds = run_with_progress(session)
    print_summary(result, seconds, db)


@app.command()
def demo(
    db: DbOpt = DEFAULT_DB,
    seed: SeedOpt = None,
    rounds: RoundsOpt = None,
    llm: Annotated[
        bool, typer.Option("--llm", help="LLM agents on the offline stand-in model instead of scripted traders.")
    ] = False,
    model: Annotated[
        str | None, typer.Option("--model", help="LLM agents on this litellm model, e.g. openai/gpt-4o-mini.")
    ] = None,
    api_base: Annotated[str | None, typer.Option("--api-base", help="Base URL of an OpenAI-compatible server.")] = None,
    max_in_flight: Annotated[int, typer.Option("--max-in-flight", min=1, help="LLM calls in flight at most.")] = 64,
    timeout: Annotated[
        float | None,
        typer.Option("--timeout", min=0.1, help="Seconds an LLM call may take before it counts as a timeout (60)."),
    ] = None,
) -> None:
    """Run the built-in services market with scripted agents (or LLM agents) and record it."""
    if llm or model:
        from sandbox.cli.llm import run_llm_demo

        run_llm_demo(db, seed, rounds, model, api_base, max_in_flight, timeout)
    else:
        _run("services", db, seed, rounds)
    console.print(f"open the app on it: [bold]agora ui --db {db}[/]", highlight=False)


@app.command("run")
def run_cmd(
    scenario: Annotated[str, typer.Argument(help="A scenario YAML file or a built-in name.")],
    db: DbOpt = DEFAULT_DB,
    seed: SeedOpt = None,
    rounds: RoundsOpt = None,
    store_wait: Annotated[
        float,
        typer.Option(
            "--store-wait", min=0, max=86_400, help="Seconds a round's write keeps trying while the store is away."
        ),
    ] = 60.0,
) -> None:
    """Run any scenario file."""
    _run(scenario, db, seed, rounds, store_wait)


@app.command()
def scenarios() -> None:
    """List the built-in scenarios."""
    from sandbox.scenario import builtin_names

    for name in builtin_names():
        console.print(name)


# Sub-commands live in their own modules and register themselves on ``app``.
from sandbox.cli import llm as cli_llm  # noqa: E402,F401,I001  (model-server; demo --llm)
from sandbox.cli import marketic as cli_marketic  # noqa: E402,F401  (marketic, marketic-replay)
from sandbox.cli import replay as cli_replay  # noqa: E402,F401  (replay, fork, resume, compare, sweep commands)
from sandbox.cli import traces as cli_traces  # noqa: E402,F401  (the traces command)
from sandbox.cli import ui as cli_ui  # noqa: E402,F401  (the ui command)


def _click_kinds(err: BaseException) -> set[str]:
    # typer ships its own copy of click, so its exceptions are told by class name, not imported class
    return {k.__name__ for k in type(err).__mro__}


def main() -> None:
    """Entry point of the ``agora`` console script: a mistake in the arguments is one line on stderr too."""
    import sys

    try:
        code = app(standalone_mode=False)
    except Exception as err:
        kinds = _click_kinds(err)
        if "NoArgsIsHelpError" in kinds:  # bare ``agora``: the help, as before
            err.show()  # type: ignore[attr-defined]
            sys.exit(2)
        if "Abort" in kinds:
            typer.echo("error: aborted", err=True)
            sys.exit(1)
        if "ClickException" not in kinds:
            raise
        ctx = getattr(err, "ctx", None)
        hint = f" (see {ctx.command_path} --help)" if ctx is not None else ""
        typer.echo(f"error: {one_line(err.format_message())}{hint}", err=True)  # type: ignore[attr-defined]
        sys.exit(getattr(err, "exit_code", 2))
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    # Run as ``python -m sandbox.cli`` this file is ``__main__``; the sub-command modules
    # register on ``sandbox.cli.core.app``, so start that one.
    from sandbox.cli.core import main as registered_main

    registered_main()
