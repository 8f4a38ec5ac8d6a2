"""Scenario files: built-ins load, and every mistake gets one clear line naming file and field."""

from __future__ import annotations

import textwrap

import pytest

from sandbox.scenario import ScenarioError, builtin_names, load_scenario

GOOD = """
name: tiny
rounds: 5
population:
  - {agent: zi_c, n: 2, role: buyer, budget: 50, value: [10, 40]}
  - {agent: zi_c, n: 2, role: seller, cost: 5, capacity: 2}
"""


def _write(tmp_path, text: str) -> str:
    p = tmp_path / "scn.yaml"
    p.write_text(textwrap.dedent(text))
    return str(p)


def test_builtin_services_loads() -> None:
    assert "services" in builtin_names()
    s = load_scenario("services")
    assert s.name == "services" and s.rounds >= 10 and sum(p.n for p in s.population) >= 20


def test_good_file(tmp_path) -> None:
    s = load_scenario(_write(tmp_path, GOOD))
    assert s.rounds == 5 and s.population[0].agent == "zi_c"


@pytest.mark.parametrize(
    "edit,expected",
    [
        (
            ("agent: zi_c, n: 2, role: buyer", "agent: wizard, n: 2, role: buyer"),
            "population[0].agent: unknown agent type 'wizard'; known types:",
        ),
        (("budget: 50", "budget: -50"), "population[0].budget: Input should be greater than or equal to 0 (got -50)"),
        (("rounds: 5", "rounds: 0"), "rounds: Input should be greater than or equal to 1 (got 0)"),
        (("role: buyer", "role: trader"), "population[0].role: role must be 'buyer' or 'seller', got 'trader'"),
        (("cost: 5, ", ""), "population[1]: sellers need a 'cost'"),
        (("rounds: 5", "rounds: 5\nroundz: 3"), "roundz: is not a field here"),
        (("value: [10, 40]", "value: [40, 10]"), "population[0].value: must be a number >= 0 or a range"),
    ],
)
def test_each_mistake_named(tmp_path, edit, expected) -> None:
    path = _write(tmp_path, GOOD.replace(*edit))
    with pytest.raises(ScenarioError) as err:
        load_scenario(path)
    msg = str(err.value)
    assert msg.startswith(path + ": "), msg
    assert expected in msg, msg


def test_missing_field_and_several_mistakes(tmp_path) -> None:
    path = _write(
        tmp_path,
        "population:\n  - {n: 2, role: buyer, value: 3}\n  - {agent: zi_u, n: -1, role: seller, cost: 1, capacity: 1}\n",
    )
    with pytest.raises(ScenarioError) as err:
        load_scenario(path)
    lines = str(err.value).splitlines()
    assert any("population[0].agent: Field required" in line for line in lines)
    assert any("population[1].n:" in line for line in lines)


def test_not_yaml_and_not_found(tmp_path) -> None:
    with pytest.raises(ScenarioError, match=r"not valid YAML at line 2"):
        load_scenario(_write(tmp_path, "name: x\n  rounds: [\n"))
    with pytest.raises(ScenarioError, match="no such file, and not a built-in scenario"):
        load_scenario("does-not-exist")
    with pytest.raises(ScenarioError, match="a scenario must be a mapping"):
        load_scenario(_write(tmp_path, "- 1\n- 2\n"))
