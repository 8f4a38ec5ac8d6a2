"""``agora ui``: start the Streamlit app on a store (``streamlit run`` under the hood).

The app's file is found by path (``importlib.util.find_spec``) so nothing here imports ``ui``.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from typing import Annotated

import typer

from sandbox.cli.common import DbOpt, app, console, fail
from traces.store import DEFAULT_DB, Store, StoreError

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def app_file() -> Path:
    """Where the installed app's entry script is."""
    spec = importlib.util.find_spec("ui")
    if spec is None or spec.origin is None:
        raise FileNotFoundError("the ui package is not installed; run pip install -e . in the project")
    return Path(spec.origin).parent / "app.py"


def streamlit_command(db_url: str, host: str, port: int) -> tuple[list[str], dict[str, str]]:
    """The command line and environment that serve the app for ``db_url`` on ``host:port``."""
    cmd = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(app_file()),
        "--server.address",
        host,
        "--server.port",
        str(port),
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
        "--client.toolbarMode",
        "minimal",  # no Deploy button or developer menu in an audit tool
    ]
    return cmd, {**os.environ, "AGORA_DB": db_url}


@app.command("ui")
def ui_cmd(
    db: DbOpt = DEFAULT_DB,
    port: Annotated[int, typer.Option("--port", help="Port to serve on.")] = 8501,
    host: Annotated[str, typer.Option("--host", help="Address to bind (default: this machine only).")] = "127.0.0.1",
) -> None:
    """Open the audit and control app on a store: runs, market, transactions, agents, alerts, incentives, replay."""
    if "://" not in db:
        db = str(Path(db).resolve())
    try:
        _ = Store(db).engine  # a bad URL fails here, in one sentence, not inside the app
    except StoreError as err:
        fail(str(err))
    if host not in LOOPBACK and not (
        os.environ.get("AGORA_OPERATOR_TOKEN")
        or os.environ.get("AGORA_OPERATORS")
        or os.environ.get("AGORA_OPERATORS_FILE")
    ):
        console.print(
            f"[yellow]warning:[/] bound to {host} without AGORA_OPERATORS (or AGORA_OPERATOR_TOKEN) set: the app is read-only."
        )
    cmd, env = streamlit_command(db, host, port)
    shown = f"[{host}]" if ":" in host else host
    console.print(f"Agora app on [bold]http://{shown}:{port}[/] (store {db}); Ctrl+C stops it.", highlight=False)
    if os.name == "posix":
        # Become the server: a signal meant for ``agora ui`` (Ctrl+C, or SIGTERM from a process manager,
        # ``docker stop``, ``kill``) reaches Streamlit itself, and no server is left behind on the port.
        sys.stdout.flush()
        sys.stderr.flush()
        os.execve(cmd[0], cmd, env)
    try:
        code = subprocess.call(cmd, env=env)
    except KeyboardInterrupt:
        code = 0
    raise typer.Exit(code)
