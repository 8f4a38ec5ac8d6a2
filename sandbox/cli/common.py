"""The parts every ``agora`` command module shares: the app they register on, the console, the
options, one-line errors, the progress bar and the summary tables.
"""

from __future__ import annotations

import time
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.table import Table

from sandbox.progress import RunProgress
from sandbox.session import RunResult, Session
from traces.store import StoreUnavailable

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Agora: a sandbox for markets of LLM agents.")
console = Console()

DbOpt = Annotated[str, typer.Option("--db", help="SQLite file path or database URL.")]
SeedOpt = Annotated[int | None, typer.Option("--seed", help="Seed (default: the scenario's).")]
RoundsOpt = Annotated[int | None, typer.Option("--rounds", help="Rounds (default: the scenario's).")]


def one_line(message: str) -> str:
    """``message`` on one line: several mistakes joined by '; ', control characters escaped."""
    text = "; ".join(part.strip() for part in str(message).splitlines() if part.strip())
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode() for ch in text)


def fail(message: str) -> NoReturn:
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
