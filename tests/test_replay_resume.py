"""Resume: a run killed with SIGKILL mid-round continues from its last committed round."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from collections import defaultdict

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from sandbox import Session, load_scenario, resume
from sandbox.replay import ReplayError, replay
from traces import Store, read
from traces.control import commands, submit_command

ROUNDS = 16
CHILD = textwrap.dedent(
    """
    import sys, time
    from sandbox import Session, load_scenario
    db, run_id = sys.argv[1], sys.argv[2]
    s = Session(load_scenario("services"), rounds=ROUNDS, store=db, run_id=run_id)
    def slow(session, log):  # round 7 settles, then waits before its commit: the kill lands mid-round
        print(f"ending {log.round}", flush=True)
        if log.round == 7:
            time.sleep(30)
    s.hooks.round_end.append(slow)
    s.run()
    """.replace("ROUNDS", str(ROUNDS))
)


def _rows(store: Store, table: str, run_id: str, order: str) -> list[tuple]:
    with store.engine.connect() as conn:
        rows = conn.execute(text(f"select * from {table} where run_id=:r order by {order}"), {"r": run_id}).all()
    return [tuple(v for k, v in r._mapping.items() if k not in ("run_id", "span_id", "trace_id")) for r in rows]


@pytest.mark.slow
def test_kill_9_mid_run_then_resume(tmp_path) -> None:
    db = str(tmp_path / "crash.db")
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    proc = subprocess.Popen([sys.executable, str(script), db, "victim"], stdout=subprocess.PIPE, text=True)
    try:
        for line in proc.stdout:  # type: ignore[union-attr]
            if line.strip() == "ending 7":
                os.kill(proc.pid, signal.SIGKILL)
                break
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL

    store = Store(db)
    row = read.run(store, "victim")
    assert row is not None and row.status == "running" and row.rounds_done == 6, "round 7 was killed before its commit"
    assert _rows(store, "rounds", "victim", "round")[-1][0] == 6

    result = resume("victim", store)
    assert result.rounds == ROUNDS
    row = read.run(store, "victim")
    assert row is not None and row.status == "finished" and row.rounds_done == ROUNDS

    # The same run without the crash: every record must be the same, none lost, none twice.
    ref = Session(load_scenario("services"), rounds=ROUNDS, store=store, run_id="reference").run()
    for table, order in (
        ("transactions", "tx_id"),
        ("ledger_entries", "seq"),
        ("actions", "round, seq"),
        ("rounds", "round"),
        ("policy_versions", "version"),
    ):
        assert _rows(store, table, "victim", order) == _rows(store, table, "reference", order), table
    tx = [t.tx_id for t in read.transactions(store, "victim")]
    assert tx == list(range(1, len(tx) + 1)) and len(tx) == ref.summary["transactions"] > 0

    balances: dict[str, int] = defaultdict(int)
    for e in read.ledger(store, "victim"):
        balances[e.source] -= e.amount
        balances[e.dest] += e.amount
    assert sum(balances.values()) == 0
    assert all(v >= 0 for k, v in balances.items() if k != "external"), "no account may end below zero"

    assert replay("victim", store).identical
    with store.engine.connect() as conn:
        per_round = conn.execute(
            text(
                "select round, count(*) from spans where run_id='victim' and name='session.round' "
                "group by round order by round"
            )
        ).all()
        counts = conn.execute(
            text("select started, ended, stored, in_store, ok from span_counts where run_id='victim'")
        ).one()
    assert all(n == 1 for _, n in per_round), "no round's span twice: the killed round's spans were not kept"
    # A round's own span ends after its commit and is written with the next round, so the
    # span of round 6 died with the process; every other round has its span.
    assert {r for r, _ in per_round} >= set(range(1, 6)) | set(range(7, ROUNDS + 1))
    assert counts.ok and counts.stored == counts.in_store


def test_resume_a_paused_run_from_the_command_line(tmp_path) -> None:
    from sandbox.cli import app

    store = Store(str(tmp_path / "paused.db"))
    s = Session(load_scenario("services"), rounds=10, store=store)
    s.run(rounds=4)
    assert read.run(store, s.run_id).status == "paused"
    submit_command(store, s.run_id, "set_policy", {"fee_rate": 0.2}, author="ui", reason="while paused")
    res = CliRunner().invoke(app, ["resume", s.run_id, "--db", store.url])
    assert res.exit_code == 0, res.output
    row = read.run(store, s.run_id)
    assert row.status == "finished" and row.rounds_done == 10
    assert [c.applied_round for c in commands(store, s.run_id)] == [5]
    assert replay(s.run_id, store).identical


def test_command_marked_for_an_uncommitted_round_is_applied_once(tmp_path) -> None:
    store = Store(str(tmp_path / "marked.db"))
    s = Session(load_scenario("services"), rounds=8, store=store)
    s.run(rounds=3)
    cid = submit_command(store, s.run_id, "set_policy", {"fee_rate": 0.2}, author="ui")
    with store.engine.begin() as conn:  # as a crash right after the session marked it, before round 4 committed
        conn.execute(text("update control_commands set applied_round=4, outcome='applied' where id=:i"), {"i": cid})
    resume(s.run_id, store)
    with store.engine.connect() as conn:
        versions = conn.execute(
            text("select round from policy_versions where run_id=:r order by version"), {"r": s.run_id}
        ).all()
    assert [v[0] for v in versions] == [1, 4]
    assert replay(s.run_id, store).identical


def test_nothing_to_resume(tmp_path) -> None:
    store = Store(str(tmp_path / "done.db"))
    run_id = Session(load_scenario("services"), rounds=3, store=store).run().run_id
    with pytest.raises(ReplayError, match="nothing to resume"):
        resume(run_id, store)
