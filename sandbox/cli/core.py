"""The ``agora`` command: run the demo market, run scenario files, list scenarios; ``main``.

The other commands live in the modules of this package and register on ``common.app``.
"""

from __future__ import annotations

from typing import Annotated

import typer

from sandbox.cli.common import DbOpt, RoundsOpt, SeedOpt, app, console, fail, one_line, print_summary, run_with_progress
from sandbox.scenario import ScenarioError, load_scenario
from sandbox.session import Session
from traces.store import DEFAULT_DB, Store, StoreError


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


# Sub-commands live in their own modules and register themselves on ``common.app``.
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
