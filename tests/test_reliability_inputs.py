"""Bad input is one sentence: scenario files, ``Session`` and ``spawn`` arguments, the command line, stores.

Each case asserts the exit code, one line on stderr, no traceback and no file changed; a
hypothesis fuzz test throws mutated scenario files and argument lists at the CLI in-process
(typer's CliRunner), and a few real subprocess runs check the same from outside.
"""

from __future__ import annotations

import hashlib
import os
import pathlib
import sqlite3
import subprocess
import sys

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from agents import ZIC
from sandbox import Session
from sandbox.cli import app
from sandbox.scenario import ScenarioError, parse_scenario
from traces.store import Store, StoreError

ROOT = pathlib.Path(__file__).resolve().parents[1]
GOOD = {
    "name": "tiny",
    "rounds": 3,
    "population": [
        {"agent": "zi_c", "n": 2, "role": "buyer", "budget": 50, "value": [10, 40]},
        {"agent": "zi_c", "n": 2, "role": "seller", "cost": [5, 20], "capacity": 2},
    ],
}

# (what is wrong, a change to the good scenario, words the sentence must contain)
BAD_SCENARIOS = [
    ("demand 10^11", {"population": [{**GOOD["population"][0], "demand": 10**11}]}, "demand"),
    ("capacity 10^11", {"population": [GOOD["population"][0], {**GOOD["population"][1], "capacity": 10**11}]}, "capac"),
    ("seed 10^26", {"seed": 10**26}, "seed"),
    ("population seed 10^26", {"population": [{**GOOD["population"][0], "seed": 10**26}]}, "seed"),
    ("a billion agents", {"population": [{**GOOD["population"][0], "n": 100_000}] * 10_000}, "agents"),
    ("200,000 agents in two groups", {"population": [{**GOOD["population"][0], "n": 100_000}] * 2}, "agents"),
    ("min above max price", {"market": {"min_price": 50, "max_price": 10}}, "min_price"),
    ("unknown agent parameter", {"population": [{**GOOD["population"][0], "params": {"markup": 1}}]}, "markup"),
    (
        "negative token budget",
        {"population": [{**GOOD["population"][0], "agent": "llm", "params": {"token_budget": -5}}]},
        "token_budget",
    ),  # noqa: E501
    (
        "negative timeout",
        {"population": [{**GOOD["population"][0], "agent": "llm", "params": {"timeout": -1}}]},
        "timeout",
    ),  # noqa: E501
    ("control character in the name", {"name": "evil\x1b[2Jname"}, "printable"),
    ("right-to-left override in the name", {"name": "run\u202egpj.exe"}, "printable"),
    ("newline in the name", {"name": "two\nlines"}, "printable"),
    ("a 1,000-character name", {"name": "x" * 1000}, "name"),
    ("budget 10^300", {"population": [{**GOOD["population"][0], "budget": 1e300}]}, "budget"),
    ("value 10^20", {"population": [{**GOOD["population"][0], "value": 1e20}]}, "value"),
    ("max_price 10^30", {"market": {"max_price": 1e30}}, "max_price"),
    ("a million actions per round", {"market": {"max_actions_per_round": 10**6}}, "max_actions"),
    ("rounds 10^12", {"rounds": 10**12}, "rounds"),
]


def _digest(folder: pathlib.Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir()) if p.is_file()}


def _one_sentence(result, before: dict[str, str], folder: pathlib.Path) -> str:
    assert result.exit_code != 0
    err = result.stderr
    assert "Traceback" not in result.output and "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ")
    assert _digest(folder) == before, "a refused command changed a file"
    return lines[0]


@pytest.mark.parametrize(("what", "change", "word"), BAD_SCENARIOS, ids=[b[0] for b in BAD_SCENARIOS])
def test_bad_scenario_is_one_sentence_and_changes_nothing(tmp_path, what, change, word) -> None:
    scn = tmp_path / "s.yaml"
    scn.write_text(yaml.safe_dump({**GOOD, **change}))
    (tmp_path / "keep.db").write_bytes(b"")  # a store the refused run must not touch
    before = _digest(tmp_path)
    result = CliRunner().invoke(app, ["run", str(scn), "--db", str(tmp_path / "keep.db")])
    line = _one_sentence(result, before, tmp_path)
    assert word in line, line


def test_good_scenario_still_runs(tmp_path) -> None:
    scn = tmp_path / "s.yaml"
    scn.write_text(yaml.safe_dump(GOOD))
    result = CliRunner().invoke(app, ["run", str(scn), "--db", str(tmp_path / "ok.db")])
    assert result.exit_code == 0, result.output


BAD_ARGS = [
    (["run", "services", "--seed", str(10**26)], "seed"),
    (["run", "services", "--rounds", "0"], "rounds"),
    (["run", "services", "--rounds", str(10**12)], "rounds"),
    (["run", "no-such-scenario"], "no such file"),
    (["run", "services", "--db", "mysql://u:pw@127.0.0.1/x"], "SQLite or PostgreSQL"),
    (["run", "services", "--db", "foo://x"], "SQLite or PostgreSQL"),
    (["demo", "--seed", str(-(2**64))], "seed"),
]


@pytest.mark.parametrize(("args", "word"), BAD_ARGS, ids=[" ".join(a[0][:3])[:40] for a in BAD_ARGS])
def test_bad_arguments_are_one_sentence(tmp_path, monkeypatch, args, word) -> None:
    monkeypatch.chdir(tmp_path)
    before = _digest(tmp_path)
    result = CliRunner().invoke(app, args)
    line = _one_sentence(result, before, tmp_path)
    assert word in line and "pw@" not in line, line


def _stores(tmp_path: pathlib.Path) -> dict[str, tuple[str, str]]:
    """Broken stores: a name -> (path or URL, words the sentence must contain)."""
    good = tmp_path / "good.db"
    s = Session(seed=1, rounds=2, store=str(good))
    s.spawn(ZIC, n=2, role="seller", cost=5, capacity=2)
    s.spawn(ZIC, n=2, role="buyer", budget=50, value=30)
    s.run()
    con = sqlite3.connect(good)
    con.execute("pragma wal_checkpoint(TRUNCATE)")  # every row in the main file, so copies of it are whole
    con.close()
    data = good.read_bytes()
    (tmp_path / "truncated.db").write_bytes(data[: len(data) // 3])
    (tmp_path / "junk.db").write_bytes(os.urandom(5000))
    (tmp_path / "overwritten.db").write_bytes(data[:4096] + os.urandom(len(data) - 4096))
    newer = tmp_path / "newer.db"
    newer.write_bytes(data)
    con = sqlite3.connect(newer)
    con.execute("alter table runs add column tenant text not null default 'x'")  # what a newer Agora might add
    con.commit()
    con.close()
    for p in tmp_path.glob("good.db*"):
        p.unlink()
    return {
        "truncated": (str(tmp_path / "truncated.db"), "damaged"),
        "junk": (str(tmp_path / "junk.db"), "not an SQLite database"),
        "overwritten": (str(tmp_path / "overwritten.db"), "damaged"),
        "newer": (str(newer), "newer version"),
        "mysql": ("mysql://user:pw@127.0.0.1/agora", "SQLite or PostgreSQL"),
        "missing folder": (str(tmp_path / "no" / "such" / "a.db"), "check the path"),
    }


def test_every_store_opening_failure_is_one_sentence_naming_it(tmp_path) -> None:
    stores = _stores(tmp_path)
    for kind, (target, word) in stores.items():
        before = _digest(tmp_path)
        result = CliRunner().invoke(app, ["run", "services", "--rounds", "2", "--db", target])
        line = _one_sentence(result, before, tmp_path)
        assert word in line, (kind, line)
        assert os.path.basename(target.replace("user:pw", "user:***")) in line, (kind, line)
        with pytest.raises(StoreError):
            _ = Store(target).engine


def test_session_and_spawn_refuse_out_of_bounds_in_one_sentence() -> None:
    with pytest.raises(ScenarioError, match="seed"):
        Session(seed=10**26)
    s = Session(seed=1, rounds=2)
    cases = [
        dict(n=10, role="buyer", budget=10, value=5, demand=10**11),
        dict(n=10, role="seller", cost=5, capacity=10**11),
        dict(n=10**9, role="buyer", budget=10, value=5),
        dict(n=2, role="buyer", budget=10, value=5, no_such_param=1),
        dict(n=2, role="buyer", budget=float("inf"), value=5),
    ]
    for kw in cases:
        with pytest.raises(ScenarioError) as err:
            s.spawn(ZIC, **kw)
        assert "\n" not in str(err.value) and str(err.value).startswith("spawn: "), str(err.value)
    for _ in range(2):
        s.spawn(ZIC, n=50_000, role="buyer", budget=1, value=1)
    with pytest.raises(ValueError, match="agents in all"):  # the bound holds across groups too
        s.spawn(ZIC, n=1, role="buyer", budget=1, value=1)


def test_llm_agent_parameters_are_checked_by_type() -> None:
    ok = parse_scenario(
        {**GOOD, "population": [{**GOOD["population"][0], "agent": "llm", "params": {"persona": "neutral"}}]}
    )
    assert ok.population[0].params == {"persona": "neutral"}
    with pytest.raises(ScenarioError, match="has no parameter 'temprature'"):
        parse_scenario({**GOOD, "population": [{**GOOD["population"][0], "agent": "llm", "params": {"temprature": 1}}]})


# --- the fuzz test -------------------------------------------------------------------------

_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
)
_fields = st.sampled_from(
    ["seed", "rounds", "name", "description", "market", "population", "policy", "mechanism", "safety", "extra"]
)
_pop_fields = st.sampled_from(
    ["agent", "n", "role", "budget", "value", "cost", "demand", "capacity", "schedule", "params", "seed", "service"]
)


@st.composite
def _bad_scenario(draw: st.DrawFn) -> object:
    data: dict = yaml.safe_load(yaml.safe_dump(GOOD))
    for _ in range(draw(st.integers(1, 3))):
        if draw(st.booleans()):
            data[draw(_fields)] = draw(
                st.one_of(
                    _scalars, st.lists(_scalars, max_size=3), st.dictionaries(st.text(max_size=5), _scalars, max_size=3)
                )
            )
        else:
            pop = data.get("population")
            group = pop[draw(st.integers(0, 1))] if isinstance(pop, list) and len(pop) > 1 else {}
            if not isinstance(group, dict):  # an earlier draw replaced the group by a scalar
                group = {}
            group[draw(_pop_fields)] = draw(st.one_of(_scalars, st.lists(_scalars, max_size=3)))
    return data


def _refused_or_ran(result) -> None:
    """Either the scenario was fine and ran, or it was refused in one line: never a traceback."""
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    if result.exit_code != 0:
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr


@pytest.mark.slow
@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(data=_bad_scenario(), rounds=st.one_of(st.none(), st.integers(-(10**20), 10**20)))
def test_fuzz_scenarios_and_arguments(tmp_path_factory, data, rounds) -> None:
    folder = tmp_path_factory.mktemp("fuzz")
    scn = folder / "s.yaml"
    scn.write_text(yaml.safe_dump(data, allow_unicode=True))
    args = ["run", str(scn), "--db", str(folder / "f.db")]
    if rounds is not None:
        args += ["--rounds", str(min(rounds, 3) if 0 < rounds else rounds)]  # good runs stay short
    try:
        parse_scenario(data)
        valid = True
    except ScenarioError:
        valid = False
    result = CliRunner().invoke(app, args)
    _refused_or_ran(result)
    if not valid:
        assert result.exit_code != 0 and not (folder / "f.db").exists(), "a refused scenario created the store"


@pytest.mark.slow
@pytest.mark.parametrize(
    "change", [{"seed": 10**26}, {"name": "a\u202eb"}, {"population": [{**GOOD["population"][0], "demand": 10**11}]}]
)
def test_refusals_from_a_real_process(tmp_path, change) -> None:
    scn = tmp_path / "s.yaml"
    scn.write_text(yaml.safe_dump({**GOOD, **change}))
    before = _digest(tmp_path)
    out = subprocess.run(
        [sys.executable, "-m", "sandbox.cli", "run", str(scn), "--db", str(tmp_path / "x.db")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert out.returncode == 2
    lines = [line for line in out.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in out.stderr, out.stderr
    assert _digest(tmp_path) == before


_TOKENS = st.one_of(
    st.sampled_from(["--seed", "--rounds", "--db", "--store-wait", "--bogus", "--", "-x", "services", "tiny"]),
    st.sampled_from(["-1", "0", "1", "2", str(10**7), str(10**26), "-9" * 30, "abc", "nan", "1e400", ""]),
    st.sampled_from(["mysql://u:pw@127.0.0.1/x", "bad://", "/no/such/dir/a.db", "a\u202eb", "x\x00y", "é\n"]),
    st.text(max_size=12),
)


@pytest.mark.slow
@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    command=st.sampled_from(["run", "demo", "traces", "resume", "replay", "compare", "fork", "nope"]),
    args=st.lists(_TOKENS, max_size=6),
)
def test_fuzz_command_line_through_main(tmp_path_factory, command, args) -> None:
    """The console script's own entry point: any argument list ends in success or one line on stderr."""
    import contextlib
    import io

    from sandbox.cli import main

    folder = tmp_path_factory.mktemp("argv")
    if command in ("run", "demo") and not any(a in args for a in ("--rounds",)):
        args = [*args, "--rounds", "1"]  # good runs stay short
    argv, cwd = sys.argv, os.getcwd()
    out, err = io.StringIO(), io.StringIO()
    try:
        os.chdir(folder)
        sys.argv = ["agora", command, *args]
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), pytest.raises(SystemExit) as done:
            main()
    finally:
        sys.argv = argv
        os.chdir(cwd)
    code = done.value.code
    if code not in (0, None):
        lines = [line for line in err.getvalue().splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("error: "), (command, args, err.getvalue())
    assert "Traceback" not in err.getvalue() + out.getvalue()
