"""Writes (control rows) and launches (demo runs, forks, exact replays), each recorded with who and when."""

from __future__ import annotations

import json
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from protocols.policy import IncentivePolicy
from traces import control
from ui.data.core import AGORA, clear, db_url, policy_in_force, store


def _launch(kind: str, cmd: list[str]) -> tuple[int, str]:
    """Start an ``agora`` command detached from the app, its output in a log file; (pid, log path)."""
    log = Path(tempfile.gettempdir()) / f"agora-{kind}-{time.strftime('%Y%m%d-%H%M%S')}.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
        )
    return proc.pid, str(log)


def submit_policy(run_id: str, changes: dict[str, Any], author: str, reason: str) -> int:
    """Write a ``set_policy`` command; the live session applies it at its next round."""
    merged = {**policy_in_force(run_id), **changes}
    IncentivePolicy.model_validate(merged)  # refuse here what the session would refuse later
    command_id = control.submit_command(store(), run_id, "set_policy", changes, author, reason)
    clear()
    return command_id


def submit_command(run_id: str, kind: str, payload: dict[str, Any], author: str, reason: str) -> int:
    """Write any control command (review decisions, halts) for a run."""
    command_id = control.submit_command(store(), run_id, kind, payload, author, reason)
    clear()
    return command_id


def start_demo(rounds: int, seed: int | None, author: str) -> tuple[int, str]:
    """Start ``agora demo`` into this app's store in a child process; returns its pid and log file.

    Who started it and when is recorded as a ``start_demo`` control row (run id ``*``).
    """
    cmd = [*AGORA, "demo", "--db", db_url(), "--rounds", str(rounds)]
    if seed is not None:
        cmd += ["--seed", str(seed)]
    pid, log = _launch("demo", cmd)
    control.submit_command(store(), "*", "start_demo", {"rounds": rounds, "seed": seed, "pid": pid, "log": log}, author)
    clear()
    return pid, log


def submit_review(run_id: str, alert_id: str, decision: str, author: str, reason: str, amount: float | None) -> int:
    """Write a ``review_alert`` command; the live session applies it at its next round."""
    from traces import alerts as al

    command_id = al.request_review(store(), run_id, alert_id, decision, author, reason, amount)
    clear()
    return command_id


def replay_available() -> bool:
    """Whether the replay issue's ``sandbox.replay`` is installed."""
    import importlib.util

    return importlib.util.find_spec("sandbox.replay") is not None


def verify_replay(run_id: str) -> tuple[bool, str]:
    """Re-execute a run from its record (no writes, no model calls): identical, or where it diverged."""
    from sandbox.replay import ReplayError, replay

    try:
        report = replay(run_id, store())
    except ReplayError as err:
        return False, str(err)
    return report.identical, f"{report} in {report.seconds:.2f} s"


def start_fork(run_id: str, round_: int, policy: dict[str, Any], author: str) -> tuple[int, str]:
    """Start ``agora fork`` in a child process (a new run branching after ``round_``); returns its pid and log.

    Who started it and with which policy is recorded as a ``start_fork`` control row (run id ``*``).
    """
    IncentivePolicy.model_validate({**policy_in_force(run_id), **policy})
    with tempfile.NamedTemporaryFile("w", suffix=".json", prefix="agora-fork-", delete=False) as f:
        json.dump(policy, f)
    cmd = [*AGORA, "fork", run_id, "--round", str(round_), "--policy", f.name, "--db", db_url()]
    pid, log = _launch("fork", cmd)
    payload = {"parent": run_id, "round": round_, "policy": policy, "pid": pid, "log": log}
    control.submit_command(store(), "*", "start_fork", payload, author)
    clear()
    return pid, log


def record_attempt(
    run_id: str, action: str, operator: str, client: str, allowed: bool, outcome: str, detail: dict[str, Any]
) -> int:
    """Record an attempted write through the app, allowed or refused (``traces.write_log``)."""
    from traces.write_log import record_attempt as record

    return record(store(), run_id, action, operator, client, allowed, outcome, detail)


def write_attempts(run_id: str | None = None) -> Any:
    """The latest attempted writes (of one run and launches, or all), newest first, as a table."""
    import pandas as pd

    from traces.write_log import attempts

    rows = [r.model_dump() for r in attempts(store(), run_id)]
    df = pd.DataFrame(rows, columns=["id", "at", "run_id", "action", "operator", "client", "allowed", "outcome"])
    df["at"] = pd.to_datetime(df["at"], unit="s", utc=True)
    return df
