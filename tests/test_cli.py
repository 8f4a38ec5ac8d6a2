"""The ``agora`` command: the demo and a scenario run, in a real subprocess, and clear errors."""

from __future__ import annotations

import os
import pathlib
import runpy
import sqlite3
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
AGORA = [sys.executable, "-m", "sandbox.cli"]

pytestmark = pytest.mark.slow  # every test here starts a Python process


def _run(args, cwd) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "120"}
    return subprocess.run(AGORA + args, cwd=cwd, capture_output=True, text=True, env=env, timeout=300)


def test_demo_writes_db_and_prints_summary(tmp_path) -> None:
    out = _run(["demo", "--rounds", "12"], tmp_path)
    assert out.returncode == 0, out.stderr
    assert (
        "transactions" in out.stdout and "allocative efficiency" in out.stdout and "rejections by reason" in out.stdout
    )
    con = sqlite3.connect(tmp_path / "agora.db")
    assert con.execute("select count(*) from runs where status='finished'").fetchone()[0] == 1
    assert con.execute("select count(*) from rounds").fetchone()[0] == 12
    assert con.execute("pragma journal_mode").fetchone()[0] == "wal"


def test_run_scenario_file_with_overrides(tmp_path) -> None:
    scn = tmp_path / "s.yaml"
    scn.write_text(
        "name: tiny\nrounds: 50\npopulation:\n"
        "  - {agent: zi_c, n: 3, role: buyer, budget: 50, value: [10, 40]}\n"
        "  - {agent: zi_c, n: 3, role: seller, cost: 5, capacity: 2}\n"
    )
    out = _run(["run", str(scn), "--db", str(tmp_path / "t.db"), "--seed", "3", "--rounds", "4"], tmp_path)
    assert out.returncode == 0, out.stderr
    con = sqlite3.connect(tmp_path / "t.db")
    assert con.execute("select scenario, seed, rounds_done from runs").fetchone() == ("tiny", 3, 4)


def test_bad_scenario_is_one_clear_sentence(tmp_path) -> None:
    scn = tmp_path / "bad.yaml"
    scn.write_text("rounds: 3\npopulation:\n  - {agent: zi_c, n: 2, role: buyer, budget: -5, value: 3}\n")
    out = _run(["run", str(scn)], tmp_path)
    assert out.returncode == 2
    text = " ".join(out.stderr.split())  # errors are one line on stderr
    assert "population[0].budget" in text and "Traceback" not in out.stdout + out.stderr


def test_bad_database_url_is_one_clear_sentence(tmp_path) -> None:
    out = _run(["demo", "--db", "nosuchdriver://x/y"], tmp_path)
    assert out.returncode == 2
    assert "SQLite or PostgreSQL" in " ".join(out.stderr.split()) and "Traceback" not in out.stderr


def test_quickstart_example_runs(tmp_path) -> None:
    out = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "quickstart.py")],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    assert "efficiency" in out.stdout and (tmp_path / "quickstart.db").exists()


def test_marketic_example_runs_outside_the_repository(tmp_path) -> None:
    """Run from another folder, the example still finds its default plot folder (the repository's docs/)."""
    script = ROOT / "examples" / "marketic.py"
    out = subprocess.run(
        [sys.executable, str(script), "--seeds", "1", "--episodes", "3", "--html", "p.html", "--svg", "p.svg"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "p.html").exists() and (tmp_path / "p.svg").exists()
    assert runpy.run_path(str(script), run_name="example")["DOCS"] == ROOT / "docs"


def test_bad_agent_parameter_is_one_clear_sentence(tmp_path) -> None:
    scn = tmp_path / "p.yaml"
    scn.write_text(
        "rounds: 2\npopulation:\n"
        "  - {agent: llm, n: 1, role: buyer, budget: 5, value: 3, params: {persona: bargin_hunter, model: scripted/auto}}\n"
    )
    out = _run(["run", str(scn), "--db", str(tmp_path / "p.db")], tmp_path)
    assert out.returncode == 2
    text = " ".join(out.stderr.split())
    assert "unknown persona 'bargin_hunter'" in text and "Traceback" not in out.stdout + out.stderr
