"""The untraced, unstored engine (its fast paths: our ZI traders' plain values, the inline record, no span, no
store) keeps the same actions, in the same order, as a traced run stores, for every built-in scenario; and
``scripts/compare_record.py`` dumps that untraced record so a change of it is caught against another tree."""

from __future__ import annotations

import importlib.util
import pathlib
import sys
from typing import Any

import pytest

SCRIPT = pathlib.Path(__file__).resolve().parents[1] / "scripts" / "compare_record.py"
FIELDS = ("round", "seq", "agent_id", "action_type", "payload", "accepted", "rule", "reason", "thread_id")


@pytest.fixture(scope="module")
def compare_record(request: pytest.FixtureRequest) -> Any:
    spec = importlib.util.spec_from_file_location("compare_record_under_test", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    request.addfinalizer(lambda: sys.modules.pop(spec.name, None))
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_every_scenario_untraced_keeps_the_actions_a_traced_run_stores(compare_record: Any) -> None:
    stored, untraced = compare_record.dump(4), compare_record.dump_untraced(4)
    assert set(untraced) == {f"{name} (untraced, unstored)" for name in stored}
    for name, tables in stored.items():
        kept = untraced[f"{name} (untraced, unstored)"]
        want = sorted((tuple(r[f] for f in FIELDS) for r in tables["actions"]), key=lambda t: (t[0], t[1]))
        got = [tuple(r[f] for f in FIELDS) for r in kept["actions"]]
        assert got == want, name
        assert len(kept["deals"]) == len(tables.get("transactions", [])), name
    assert untraced["double_auction (untraced, unstored)"]["actions"], "the double auction acts"


def test_the_untraced_dump_is_the_same_twice(compare_record: Any) -> None:
    assert compare_record.dump_untraced(3) == compare_record.dump_untraced(3)
