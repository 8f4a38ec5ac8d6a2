"""Sweeps: a grid of policy parameters times seeds, on local processes, on Ray, into PostgreSQL."""

from __future__ import annotations

import importlib.util
import json
import os
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from sandbox import load_scenario
from sandbox.replay import replay
from sandbox.scenario import ScenarioError
from sandbox.sweep import SweepSpec, load_result, load_sweep, run_sweep
from sandbox.sweep.report import sweep_figure, sweep_table
from traces import Store, read
from traces.history import delete_run
from traces.sweeps import sweep_runs

SPEC = """
name: {name}
scenario: services
rounds: 6
seeds: [1, 2]
grid:
  fee_rate: [0.0, 0.2]
metrics: [transactions, fees, efficiency]
"""


def _check_sweep(store: Store, sweep_id: str, n: int) -> list:
    rows = sweep_runs(store, sweep_id)
    assert len(rows) == n and all(r.status == "finished" for r in rows), [r.error for r in rows]
    for r in rows:
        run = read.run(store, r.run_id)
        assert run is not None and run.status == "finished" and run.rounds_done == 6
        fees = json.loads(run.summary_json)["fees"]
        fee_rate = json.loads(r.params_json)["fee_rate"]
        assert (fees > 0) == (fee_rate > 0), (r.run_id, fee_rate, fees)
    return rows


def test_sweep_on_local_processes_from_the_command_line(tmp_path) -> None:
    from sandbox.cli import app

    spec = tmp_path / "sweep.yaml"
    spec.write_text(SPEC.format(name="local"))
    db, html = str(tmp_path / "sweep.db"), tmp_path / "sweep.html"
    res = CliRunner().invoke(app, ["sweep", str(spec), "--db", db, "--workers", "2", "--html", str(html)])
    assert res.exit_code == 0, res.output
    assert "4 runs (0 failed)" in res.output and html.exists()
    store = Store(db)
    sweep_id = next(r.id for r in read.runs(store)).rsplit("-p", 1)[0]
    rows = _check_sweep(store, sweep_id, 4)
    # The per-process SQLite records were merged whole: a merged run still replays exactly.
    assert replay(rows[-1].run_id, store).identical

    result = load_result(store, sweep_id, load_sweep(spec)[0])
    agg = result.table()
    assert list(agg.index) == [0.0, 0.2] and (agg[("fees", "count")] == 2).all()
    assert agg.loc[0.0, ("fees", "mean")] == 0 and agg.loc[0.2, ("fees", "mean")] > 0
    assert sweep_table(result).row_count == 2
    assert len(sweep_figure(result).data) == 3  # one trace per metric


def test_bad_sweep_files_are_one_clear_line(tmp_path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("scenario: services\nmetrics: [happiness]\n")
    with pytest.raises(ScenarioError, match="unknown metric happiness"):
        load_sweep(bad)
    bad.write_text("scenario: services\ngrid:\n  fee_rate: [2.5]\n")
    with pytest.raises(ScenarioError, match="fee_rate"):
        load_sweep(bad)


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    """One local Ray node for this module, started with the time a busy 2-core machine needs.

    Ray waits a fixed 30 s for its raylet to register; under load that can pass, so a failed
    start is tried once more, and a node that still does not start skips the test with Ray's reason.
    The sweep finds Ray initialised and leaves the node to this fixture.
    """
    if importlib.util.find_spec("ray") is None:
        pytest.skip("ray is not installed (pip install 'agora-sandbox[ray]')")
    import ray

    os.environ.setdefault("RAY_gcs_server_port_wait_time_s", "120")
    failure = None
    for _ in range(2):
        try:
            ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
            break
        except Exception as err:  # Ray raises a bare Exception when its node times out
            failure = err
            ray.shutdown()
    else:
        pytest.skip(f"a local Ray node did not start on this machine twice: {failure}")
    try:
        yield
    finally:
        ray.shutdown()


@pytest.mark.slow
def test_sweep_on_ray(tmp_path, local_ray) -> None:
    spec = SweepSpec.model_validate(
        {
            "name": "ray",
            "scenario": "services",
            "rounds": 6,
            "seeds": [1],
            "grid": {"fee_rate": [0.0, 0.2]},
            "metrics": ["fees"],
            "trace": False,
        }
    )
    store = Store(str(tmp_path / "ray.db"))
    result = run_sweep(spec, load_scenario("services"), store=store, executor="ray", workers=2)
    rows = _check_sweep(store, result.sweep_id, 2)
    with store.engine.connect() as conn:
        spans = conn.execute(
            text("select count(*) from spans where run_id like :p"), {"p": f"{result.sweep_id}%"}
        ).scalar_one()
    assert spans == 0, "trace: false records no spans"
    assert replay(rows[0].run_id, store).identical


@pytest.mark.skipif(
    not os.environ.get("AGORA_TEST_PG_URL"), reason="set AGORA_TEST_PG_URL to test sweeps into PostgreSQL"
)
def test_sweep_into_postgresql() -> None:
    store = Store(os.environ["AGORA_TEST_PG_URL"])
    spec = SweepSpec.model_validate(
        {
            "name": f"pg{uuid.uuid4().hex[:6]}",
            "scenario": "services",
            "rounds": 6,
            "seeds": [1],
            "grid": {"fee_rate": [0.0, 0.2]},
            "metrics": ["fees"],
            "trace": False,
        }
    )
    result = run_sweep(spec, load_scenario("services"), store=store, workers=2)
    try:
        rows = _check_sweep(store, result.sweep_id, 2)
        assert replay(rows[0].run_id, store).identical
    finally:
        for r in result.runs:
            delete_run(store, r["run_id"])
