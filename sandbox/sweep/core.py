"""Sweeps: a grid of policy (or market) parameters times seeds for one scenario.

Each grid point and seed is one ordinary run. Runs go to local processes by default, or
to Ray (``executor="ray"``; Ray starts locally when no cluster address is given). With a
PostgreSQL store every worker writes straight into it; otherwise each run writes its own
SQLite file and the driver merges the rows into the target store as runs finish.

A sweep file::

    name: fee-sweep
    scenario: services          # a scenario file (relative to this file) or a built-in name
    rounds: 20                  # optional: overrides the scenario's
    seeds: [1, 2, 3, 4]         # or a count: 4 means seeds 0..3
    grid:
      fee_rate: [0.0, 0.05, 0.1]     # a bare name is a policy field
      market.max_actions_per_round: [5, 10]
    metrics: [transactions, volume, efficiency]
    trace: true                 # false: no spans (the records stay complete and replayable)
"""

from __future__ import annotations

import copy
import itertools
import json
import os
import tempfile
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from sandbox.scenario import Scenario, ScenarioError, load_scenario, parse_scenario
from sandbox.session import Session
from traces import history
from traces.store import Store
from traces.sweeps import SweepRunRow, record_sweep_runs

SUMMARY_METRICS = (
    "transactions",
    "volume",
    "mean_price",
    "surplus",
    "efficiency",
    "fees",
    "fines",
    "actions",
    "violations",  # rejections by the rules the default policy fines (sandbox.metrics.VIOLATION_RULES)
    "quality",  # mean outcome score of settled deals: delivered quality as reported or drawn
)
Progress = Callable[[int, int], None]


class SweepSpec(BaseModel):
    """A sweep file: a scenario, a grid of parameters, seeds and the metrics to report."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field("sweep", description="Name of the sweep; run ids start with it.")
    scenario: str | dict[str, Any] = Field(description="Scenario file, built-in name, or the scenario inline.")
    rounds: int | None = Field(None, ge=1, description="Rounds per run (default: the scenario's).")
    seeds: list[int] | int = Field(default_factory=lambda: [0], description="Seeds, or how many (0..n-1).")
    grid: dict[str, list[Any]] = Field(default_factory=dict, description="Parameter path -> values.")
    metrics: list[str] = Field(default_factory=lambda: ["transactions", "volume", "efficiency"])
    trace: bool = Field(True, description="Record OpenTelemetry spans of each run (false: records only, faster).")

    @field_validator("metrics")
    @classmethod
    def _known_metrics(cls, metrics: list[str]) -> list[str]:
        bad = [m for m in metrics if m not in SUMMARY_METRICS]
        if bad:
            raise ValueError(f"unknown metric {', '.join(bad)}; choose from {', '.join(SUMMARY_METRICS)}")
        return metrics

    @field_validator("grid")
    @classmethod
    def _non_empty(cls, grid: dict[str, list[Any]]) -> dict[str, list[Any]]:
        for key, values in grid.items():
            if not values:
                raise ValueError(f"grid entry '{key}' has no values")
        return grid

    def seed_list(self) -> list[int]:
        """The seeds as a list."""
        return list(range(self.seeds)) if isinstance(self.seeds, int) else list(self.seeds)


def _path(key: str) -> list[str]:
    parts = key.split(".")
    return parts if parts[0] in Scenario.model_fields else ["policy", *parts]


def _set(data: dict[str, Any], key: str, value: Any) -> None:
    node = data
    *head, last = _path(key)
    for part in head:
        node = node.setdefault(part, {})
    node[last] = value


def load_sweep(path: str | Path) -> tuple[SweepSpec, Scenario]:
    """Read a sweep file and its scenario; every mistake becomes one clear line."""
    p = Path(path)
    try:
        data = yaml.safe_load(p.read_text())
        spec = SweepSpec.model_validate(data)
    except OSError as err:
        raise ScenarioError(f"{path}: cannot read the sweep file ({err.strerror})") from None
    except yaml.YAMLError as err:
        raise ScenarioError(f"{path}: not valid YAML: {err}") from None
    except ValidationError as err:
        lines = [f"{path}: {'.'.join(str(x) for x in e['loc']) or '(top level)'}: {e['msg']}" for e in err.errors()]
        raise ScenarioError("\n".join(lines)) from None
    if isinstance(spec.scenario, dict):
        scenario = parse_scenario(spec.scenario, f"{path}: scenario")
    else:
        near = p.parent / spec.scenario
        scenario = load_scenario(near if near.exists() else spec.scenario)
    cells(spec, scenario, "check")  # every grid point must make a valid scenario before anything runs
    return spec, scenario


@dataclass(frozen=True)
class Cell:
    """One run of the sweep: a grid point, a seed and the scenario they make."""

    index: int
    params: dict[str, Any]
    seed: int
    run_id: str
    scenario_json: str
    trace: bool = True


def cells(spec: SweepSpec, scenario: Scenario, sweep_id: str) -> list[Cell]:
    """Every grid point times every seed, each as a validated scenario."""
    keys = list(spec.grid)
    out = []
    for index, values in enumerate(itertools.product(*(spec.grid[k] for k in keys))):
        params = dict(zip(keys, values, strict=True))
        data = scenario.model_dump()
        for k, v in params.items():
            _set(data, k, v)
        if spec.rounds is not None:
            data["rounds"] = spec.rounds
        for seed in spec.seed_list():
            data["seed"] = seed
            sc = parse_scenario(copy.deepcopy(data), f"grid point {params}")
            out.append(Cell(index, params, seed, f"{sweep_id}-p{index}-s{seed}", sc.model_dump_json(), spec.trace))
    return out


def run_cell(cell: Cell, db_url: str | None, scratch: str) -> dict[str, Any]:
    """Run one cell in this process. Shared store: write to it; else return the rows to merge."""
    scenario = Scenario.model_validate_json(cell.scenario_json)
    tracing = None if cell.trace else False
    try:
        if db_url is not None:
            result = Session(scenario, store=Store(db_url), run_id=cell.run_id, tracing=tracing).run()
            return {"run_id": cell.run_id, "summary": result.summary, "rows": None}
        path = os.path.join(scratch, f"{cell.run_id}.db")
        local = Store(path)
        result = Session(scenario, store=local, run_id=cell.run_id, tracing=tracing).run()
        rows = history.export_run(local, cell.run_id)
        local.dispose()
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(path + suffix):
                os.remove(path + suffix)
        return {"run_id": cell.run_id, "summary": result.summary, "rows": rows}
    except Exception as err:  # one failed cell is reported, not fatal to the sweep
        return {"run_id": cell.run_id, "summary": None, "rows": None, "error": f"{type(err).__name__}: {err}"}


@dataclass
class SweepResult:
    """What a sweep produced: one row per run, and where the record went."""

    sweep_id: str
    spec: SweepSpec
    runs: list[dict[str, Any]] = field(default_factory=list)
    db: str = ""

    def frame(self) -> Any:
        """One row per run: grid parameters, seed, run id, status and summary metrics."""
        import pandas as pd

        return pd.DataFrame(self.runs)

    def table(self) -> Any:
        """Mean and standard deviation of each chosen metric per grid point, over seeds."""
        df = self.frame()
        ok = df[df["status"] == "finished"] if len(df) else df
        keys = list(self.spec.grid) or ["sweep"]
        if not self.spec.grid:
            ok = ok.assign(sweep=self.spec.name)
        agg = ok.groupby(keys, dropna=False)[self.spec.metrics].agg(["mean", "std", "count"])
        return agg


def load_result(store: Store, sweep_id: str, spec: SweepSpec) -> SweepResult:
    """A recorded sweep's result, read back from the store (for reports made after the run)."""
    from traces import read
    from traces.sweeps import sweep_runs

    result = SweepResult(sweep_id, spec, db=store.url)
    for r in sweep_runs(store, sweep_id):
        run = read.run(store, r.run_id)
        summary = json.loads(run.summary_json) if run is not None and run.summary_json else {}
        result.runs.append(
            {
                **json.loads(r.params_json),
                "seed": r.seed,
                "run_id": r.run_id,
                "status": r.status,
                **{m: summary.get(m) for m in SUMMARY_METRICS},
                "error": r.error,
            }
        )
    return result


def _shared(store: Store) -> bool:
    return not store.is_sqlite


def run_sweep(
    spec: SweepSpec,
    scenario: Scenario,
    *,
    store: Store | str | None = None,
    executor: str = "local",
    workers: int | None = None,
    address: str | None = None,
    progress: Progress | None = None,
) -> SweepResult:
    """Run every cell of a sweep and record it in ``store``; see the module docstring."""
    target = store if isinstance(store, Store) else Store(store)
    _ = target.engine  # a bad URL fails before any run starts
    sweep_id = f"{spec.name}-{uuid.uuid4().hex[:6]}"
    todo = cells(spec, scenario, sweep_id)
    db_url = target.url if _shared(target) else None
    result = SweepResult(sweep_id, spec, db=target.url)
    rows: list[SweepRunRow] = []
    with tempfile.TemporaryDirectory(prefix="agora-sweep-") as scratch:
        if executor == "ray":
            from sandbox.sweep.on_ray import ray_map

            outcomes = ray_map(run_cell, todo, db_url, scratch, workers, address)
        elif executor == "local":
            outcomes = _local_map(todo, db_url, scratch, workers)
        else:
            raise ValueError(f"unknown executor '{executor}'; use local or ray")
        for done, (cell, out) in enumerate(outcomes, start=1):
            if out.get("rows"):
                history.import_run(target, out["rows"])
            status = "failed" if out.get("error") else "finished"
            summary = out.get("summary") or {}
            result.runs.append(
                {
                    **cell.params,
                    "seed": cell.seed,
                    "run_id": cell.run_id,
                    "status": status,
                    **{m: summary.get(m) for m in SUMMARY_METRICS},
                    "error": out.get("error"),
                }
            )
            rows.append(
                SweepRunRow(
                    sweep_id=sweep_id,
                    run_id=cell.run_id,
                    cell=cell.index,
                    params_json=json.dumps(cell.params, sort_keys=True),
                    seed=cell.seed,
                    status=status,
                    error=out.get("error"),
                )
            )
            if progress:
                progress(done, len(todo))
    record_sweep_runs(target, rows)
    return result


def _local_map(todo: list[Cell], db_url: str | None, scratch: str, workers: int | None) -> Any:
    """Yield (cell, outcome) as local worker processes finish them."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    # spawn, not fork: a forked child would share the parent's open database connections
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers or os.cpu_count() or 1, mp_context=ctx) as pool:
        futures = {pool.submit(run_cell, c, db_url, scratch): c for c in todo}
        for fut in as_completed(futures):
            yield futures[fut], fut.result()
