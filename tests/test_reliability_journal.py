"""Every model call durable when it returns (issue 19): a run stopped mid-round keeps the calls it
paid for in ``llm_call_journal``, ``agora traces`` shows them, and ``agora resume`` answers them
from the journal instead of calling the model again, ending with the records of an uninterrupted run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from agents.llm.scripted_model import ScriptedStandIn, register_stand_in
from sandbox import Session, resume
from sandbox.replay import replay
from sandbox.scenario import parse_scenario
from traces import Store, read
from traces.llm_calls import journal, llm_calls

ROUNDS = 4


def _scenario() -> dict[str, Any]:
    llm = {"model": "scripted/auto", "wake": "every_round", "timeout": 600.0}
    return {
        "name": "journal",
        "seed": 21,
        "rounds": ROUNDS,
        "market": {"min_price": 1.0, "max_price": 200.0},
        "population": [
            {
                "agent": "llm",
                "n": 3,
                "role": "buyer",
                "service": "translation",
                "budget": 400,
                "value": [60, 160],
                "demand": 2,
                "params": {**llm, "persona": "bargain_hunter"},
            },
            {
                "agent": "llm",
                "n": 3,
                "role": "seller",
                "service": "translation",
                "cost": [20, 80],
                "capacity": 3,
                "params": llm,
            },
            {"agent": "zi_c", "n": 2, "role": "seller", "service": "translation", "cost": [20, 120], "capacity": 3},
        ],
    }


class Killed(BaseException):
    """Test stand-in for the process being stopped (not an Exception: nothing may swallow it)."""


class CountingStandIn(ScriptedStandIn):
    """The scripted stand-in, counting the calls it answers; with ``stop_after`` it stops the run in ``stop_round``."""

    def __init__(self, stop_round: int | None = None, stop_after: int = 0) -> None:
        super().__init__()
        self.calls = 0
        self.round = 0
        self.stop_round, self.stop_after, self.in_round = stop_round, stop_after, 0

    async def acompletion(self, model, messages, *args: Any, **kwargs: Any) -> Any:  # noqa: ANN001
        if self.round == self.stop_round:
            if self.in_round >= self.stop_after:
                raise Killed
            self.in_round += 1
        self.calls += 1
        return await super().acompletion(model, messages, *args, **kwargs)


@pytest.fixture()
def stand_in() -> Iterator[None]:
    yield
    register_stand_in()  # the default stand-in again for the other tests


def _session(store: Store, run_id: str, model: CountingStandIn) -> Session:
    register_stand_in(model)
    s = Session(parse_scenario(_scenario()), store=store, run_id=run_id)
    s.hooks.round_start.append(lambda session, log: setattr(model, "round", log.round))
    return s


def _calls(store: Store, run_id: str) -> list[tuple]:
    return [
        (
            r["round"],
            r["agent_id"],
            r["seq"],
            r["attempt"],
            r["event"],
            r["request_hash"],
            r["fault"],
            r["prompt_tokens"],
            r["completion_tokens"],
            json.loads(r["response_json"])["choices"] if r["response_json"] else None,  # not its "created" time
        )
        for r in llm_calls(store, run_id)
    ]


def _rows(store: Store, table: str, run_id: str, order: str) -> list[tuple]:
    with store.engine.connect() as conn:
        rows = conn.execute(text(f"select * from {table} where run_id=:r order by {order}"), {"r": run_id}).all()
    return [tuple(v for k, v in r._mapping.items() if k not in ("run_id", "span_id", "trace_id")) for r in rows]


def _resume_and_compare(store: Store, run_id: str, paid: int, paid_round: int) -> None:
    """Resume ``run_id``; it must call the model only for what the journal lacks and end as a run never stopped."""
    again = CountingStandIn()
    register_stand_in(again)
    assert resume(run_id, store).rounds == ROUNDS
    assert journal(store, run_id) == [], "the round's commit adopted its journal"

    ref_model = CountingStandIn()
    ref = _session(store, "reference", ref_model).run()
    assert ref.rounds == ROUNDS
    made_from = sum(1 for c in _calls(store, "reference") if c[0] >= paid_round and c[4] == "call")
    assert again.calls == made_from - paid, "the calls paid for before the stop were answered from the journal"
    assert _calls(store, run_id) == _calls(store, "reference")
    for table, order in (
        ("transactions", "tx_id"),
        ("ledger_entries", "seq"),
        ("actions", "round, seq"),
        ("rounds", "round"),
    ):
        assert _rows(store, table, run_id, order) == _rows(store, table, "reference", order), table
    assert replay(run_id, store).identical


def test_calls_of_a_stopped_round_are_kept_and_answered_on_resume(tmp_path, stand_in) -> None:
    store = Store(str(tmp_path / "j.db"))
    stopping = CountingStandIn(stop_round=2, stop_after=3)
    s = _session(store, "victim", stopping)
    with pytest.raises(Killed):
        s.run()
    row = read.run(store, "victim")
    assert row is not None and row.rounds_done == 1
    paid = journal(store, "victim", after_round=1)
    assert len(paid) == 3 and {r["round"] for r in paid} == {2}, "the three calls answered in round 2, as they returned"
    assert all(r["response_json"] and r["request_hash"] for r in paid)
    assert {r["round"] for r in llm_calls(store, "victim")} == {1}, "llm_calls holds committed rounds only"

    from sandbox.cli import app

    out = CliRunner().invoke(app, ["traces", "victim", "--db", store.url])
    assert out.exit_code == 0, out.output
    assert "model calls of round 2, in progress" in out.output
    assert all(r["agent_id"] in out.output for r in paid)

    _resume_and_compare(store, "victim", paid=3, paid_round=2)


def test_a_journal_write_is_its_own_transaction(tmp_path, stand_in) -> None:
    """While a round is still running, another connection already sees its answered calls."""
    store = Store(str(tmp_path / "live.db"))
    model = CountingStandIn()
    s = _session(store, "live", model)
    seen: list[int] = []
    other = Store(store.url)
    s.hooks.round_end.append(lambda session, log: seen.append(len(journal(other, "live", log.round - 1))))
    s.run()
    assert seen and all(n > 0 for n in seen), "each round's calls were in the journal before the round committed"
    assert journal(store, "live") == []


CHILD = textwrap.dedent(
    """
    import asyncio, sys
    sys.path.insert(0, sys.argv[4])
    from agents.llm.scripted_model import ScriptedStandIn, register_stand_in
    from sandbox import Session
    from sandbox.scenario import parse_scenario
    from test_reliability_journal import _scenario

    db, run_id, after = sys.argv[1], sys.argv[2], int(sys.argv[3])
    state = {"round": 0, "answered": 0}

    class Stalling(ScriptedStandIn):  # answers `after` calls of round 3, then hangs until killed
        async def acompletion(self, model, messages, *args, **kwargs):
            if state["round"] == 3:
                if state["answered"] >= after:
                    await asyncio.Event().wait()
                state["answered"] += 1
            return await super().acompletion(model, messages, *args, **kwargs)

    register_stand_in(Stalling())
    s = Session(parse_scenario(_scenario()), store=db, run_id=run_id)
    s.hooks.round_start.append(lambda session, log: state.update(round=log.round))
    s.run()
    """
)


@pytest.mark.slow
def test_kill_9_keeps_the_calls_paid_for_and_resume_does_not_pay_again(tmp_path, stand_in) -> None:
    db = str(tmp_path / "kill.db")
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([os.getcwd(), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen([sys.executable, str(script), db, "victim", "4", os.path.dirname(__file__)], env=env)
    try:
        seen: Store | None = None
        while proc.poll() is None:  # wait for the rows, not for a time: the fifth call of round 3 never returns
            try:
                seen = seen or (Store(db) if os.path.exists(db) else None)
                if seen is not None and len(journal(seen, "victim", after_round=2)) >= 4:
                    break
            except Exception:  # the child is still creating the schema
                seen = None
            time.sleep(0.1)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    store = Store(db)
    assert read.run(store, "victim").rounds_done == 2
    paid = journal(store, "victim", after_round=2)
    assert len(paid) == 4 and {r["round"] for r in paid} == {3}
    _resume_and_compare(store, "victim", paid=4, paid_round=3)
