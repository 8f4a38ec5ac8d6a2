"""The red-team scenario's alerts do not depend on string hashing (PYTHONHASHSEED).

networkx finds a trade graph's cycles in an order, and from a starting agent, that follow
set iteration over agent ids; the wash detector tells each cycle from its least member and
orders cycles by members then path, so the evidence is the same in every process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from protocols.detectors.wash import _from_least

ROOT = Path(__file__).resolve().parents[1]

_CODE = """
import json
from sandbox import Session, load_scenario
s = Session(load_scenario("redteam"), rounds=15)
s.run()
print(json.dumps([
    [c.id, c.alert.kind, list(c.alert.agents), c.alert.evidence] for c in s.safety.alerts.values()
], sort_keys=True, default=str))
"""


def _alerts(hashseed: int) -> list:
    env = {**os.environ, "PYTHONHASHSEED": str(hashseed), "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-c", _CODE], env=env, cwd=ROOT, capture_output=True, text=True, check=True, timeout=600
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_redteam_alert_evidence_is_the_same_under_two_hash_seeds() -> None:
    a, b = _alerts(1), _alerts(3)  # on the code before the fix these two seeds started cycles at different agents
    wash = [x for x in a if x[1] == "wash_trading"]
    assert wash, "the red-team scenario raises wash-trading alerts"
    assert all(x[3]["cycle"][0] == min(x[3]["cycle"]) for x in wash)
    assert a == b


def test_a_cycle_is_told_from_its_least_member_in_its_own_direction() -> None:
    assert _from_least(["c", "a", "b"]) == ["a", "b", "c"]
    assert _from_least(["b", "a", "c"]) == ["a", "c", "b"]
    assert _from_least(["a"]) == ["a"]
