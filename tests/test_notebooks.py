"""Notebook use: runs inside a running event loop, the async forms, DataFrames, the example notebook; demo --timeout."""

from __future__ import annotations

import _thread
import asyncio
import importlib.util
import json
import signal
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from traces_helpers import tiny

from agents.base import Agent, DryRun
from agents.observation import Observation
from sandbox import Session, afork, areplay, aresume, fork, resume
from sandbox.loop import in_running_loop, run_sync
from sandbox.replay import replay
from traces import Store, read, trace_read
from traces.frames import RunFrames, parse_json, runs

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "notebook.ipynb"


def test_run_works_inside_a_running_event_loop_and_matches_a_plain_run(tmp_path) -> None:
    plain, nested = Store(str(tmp_path / "a.db")), Store(str(tmp_path / "b.db"))
    a = Session(tiny(rounds=8), store=plain).run()

    async def cell() -> tuple[str, bool]:  # what a notebook cell is: code inside a running loop
        s = Session(tiny(rounds=8), store=nested)
        return s.run().run_id, in_running_loop()

    b_id, inside = asyncio.run(cell())
    assert inside
    rows_a = [(t.buyer, t.seller, t.price) for t in read.transactions(plain, a.run_id)]
    rows_b = [(t.buyer, t.seller, t.price) for t in read.transactions(nested, b_id)]
    assert rows_a and rows_a == rows_b
    assert trace_read.span_counts(nested, b_id).ok and read.run(nested, b_id).status == "finished"


class _InterruptingAgent(Agent):
    """A FAKE async agent: in round 2 it presses Ctrl-C on the waiting caller, then waits to be cancelled."""

    kind = "fake_interrupting"
    is_async = True

    async def adecide(self, obs: Observation, check: DryRun) -> Sequence[Any]:
        if obs.round == 2:
            _thread.interrupt_main()  # what a notebook's stop button does to the cell's thread
            await asyncio.Event().wait()  # never set: only the cancellation ends this turn
        return []


def _bare_loop(coro: Any) -> Any:
    """A loop with no SIGINT handler of its own, as in a Jupyter kernel: Ctrl-C raises KeyboardInterrupt."""
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(coro)
    finally:
        loop.close()


@pytest.fixture
def python_sigint() -> Iterator[None]:
    """Python's own SIGINT handler for the test, as in a terminal or a Jupyter kernel.

    A process started in the background by a shell inherits SIGINT ignored, and then
    ``_thread.interrupt_main`` (the simulated Ctrl-C) does nothing and the test would wait forever.
    """
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, before)


@pytest.mark.parametrize("runner", [asyncio.run, _bare_loop], ids=["asyncio.run", "jupyter-like"])
def test_an_interrupt_while_running_in_a_loop_cancels_the_run_and_records_it(tmp_path, runner, python_sigint) -> None:
    store = Store(str(tmp_path / "i.db"))
    s = Session(tiny(rounds=8), store=store)
    s.spawn(_InterruptingAgent, n=1, role="buyer", budget=10, value=1, service="svc")

    async def cell() -> None:
        s.run()

    with pytest.raises(KeyboardInterrupt):
        runner(cell())
    row = read.run(store, s.run_id)
    assert row.status == "interrupted" and row.rounds_done == 1
    assert trace_read.span_counts(store, s.run_id).ok  # the spans of the committed round, all stored


def test_run_sync_passes_errors_and_values_through() -> None:
    async def boom() -> None:
        raise ValueError("no market today")

    async def value() -> int:
        return 42

    async def cell() -> int:
        with pytest.raises(ValueError, match="no market today"):
            run_sync(boom())
        return run_sync(value())

    assert asyncio.run(cell()) == 42 and run_sync(value()) == 42


def test_replay_fork_resume_have_async_forms_and_work_in_a_loop(tmp_path) -> None:
    store = Store(str(tmp_path / "r.db"))
    s = Session(tiny(rounds=4), store=store)
    s.run(rounds=2)  # paused after round 2

    async def notebook() -> None:
        assert replay(s.run_id, store).divergence is None  # the sync form, inside the loop
        assert (await areplay(s.run_id, store)).divergence is None
        done = await aresume(s.run_id, store)
        assert done.rounds == 4 and read.run(store, s.run_id).status == "finished"
        forked = await afork(s.run_id, 2, {"fee_rate": 0.05}, store=store)
        assert read.run(store, forked.run_id).parent_run_id == s.run_id
        again = fork(s.run_id, 1, store=store)  # sync form inside the loop
        assert read.run(store, again.run_id).fork_round == 1

    asyncio.run(notebook())
    with pytest.raises(Exception, match="nothing to resume"):
        resume(s.run_id, store)


def test_the_read_api_as_dataframes(tmp_path) -> None:
    store = Store(str(tmp_path / "f.db"))
    r = Session(tiny(rounds=8), store=store).run()
    f = RunFrames(str(tmp_path / "f.db"), r.run_id)  # a path works as well as a Store
    tx, acts, sp = f.transactions(), f.actions(), f.spans()
    assert isinstance(tx, pd.DataFrame) and len(tx) == len(read.transactions(store, r.run_id)) > 0
    assert list(tx.tx_id) == sorted(tx.tx_id) and (tx.price > 0).all()
    assert len(acts) == len(read.actions(store, r.run_id)) and len(sp) == trace_read.count_spans(store, r.run_id)
    buyer = tx.buyer.iloc[0]
    mine = f.transactions(agent=buyer)
    assert len(mine) and ((mine.buyer == buyer) | (mine.seller == buyer)).all()
    assert set(f.actions(round_=2, accepted=True)["round"]) <= {2}
    subs = f.spans(operation="protocol.submit")
    assert len(subs) == len(acts) and set(subs.run_id) == {r.run_id}  # the run id on every span row
    verdicts = parse_json(subs, "attributes_json").map(lambda a: a["agora.verdict"])
    assert list(verdicts == "accepted") == list(acts.accepted)
    m = f.metrics()
    assert list(m.index) == list(range(1, 9)) and m.n_tx.sum() == len(tx)
    assert f.llm_calls().empty and {"prompt_tokens", "cost_usd", "fault"} <= set(f.llm_calls().columns)
    assert r.run_id in set(runs(store).id)
    assert len(f.ledger()) == len(read.ledger(store, r.run_id))


def _kernel_available() -> bool:
    if importlib.util.find_spec("nbclient") is None or importlib.util.find_spec("ipykernel") is None:
        return False
    from jupyter_client.kernelspec import KernelSpecManager

    return "python3" in KernelSpecManager().find_kernel_specs()


def test_the_example_notebook_runs(tmp_path, monkeypatch) -> None:
    """Executed by a real Jupyter kernel (nbclient) when one is installed, else its code cells as one script."""
    nb = json.loads(EXAMPLE.read_text())
    cells = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert 5 <= len(cells) <= 20  # small enough to read
    monkeypatch.chdir(tmp_path)
    if _kernel_available():
        import nbformat
        from nbclient import NotebookClient

        book = nbformat.read(str(EXAMPLE), as_version=4)
        NotebookClient(
            book, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
        ).execute()
        texts = [o.get("text", "") for c in book.cells if c.cell_type == "code" for o in c.outputs]
        assert any("identical" in t for t in texts)  # the replay cell printed its report
        return
    source = "\n\n".join("".join(c["source"]) for c in cells)
    exec(compile(source, str(EXAMPLE), "exec"), {"__name__": "__notebook__"})  # noqa: S102


def test_demo_timeout_option_reaches_every_llm_agent(tmp_path, monkeypatch) -> None:
    """``agora demo --timeout`` sets the per-call timeout of the LLM agents (a slow local model needs more)."""
    from typer.testing import CliRunner

    import sandbox.cli.llm as cli_llm
    from sandbox.cli import app

    seen: list[float] = []

    def stop(session: Session) -> None:
        seen.extend(a.settings.timeout for a in session.agents.values())
        raise SystemExit(0)  # enough: the run itself is tested elsewhere

    monkeypatch.setattr(cli_llm, "run_with_progress", stop)
    res = CliRunner().invoke(app, ["demo", "--llm", "--timeout", "123", "--db", str(tmp_path / "t.db")])
    assert res.exit_code == 0, res.output
    assert seen and set(seen) == {123.0}
