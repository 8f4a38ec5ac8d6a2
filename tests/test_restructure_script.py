"""scripts/restructure.py: the tree is current, and a file that still names an old module is rewritten."""

from __future__ import annotations

import importlib.util
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "restructure.py"


def _script():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("restructure", SCRIPT)
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    mod.DEFINERS.update(mod.definers())
    return mod


@pytest.mark.skipif(not (ROOT / ".git").exists(), reason="not a git checkout")
def test_the_tree_names_no_old_module() -> None:
    out = subprocess.run([sys.executable, str(SCRIPT), "--check"], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "nothing to do" in out.stdout


def test_a_new_file_naming_old_modules_is_rewritten() -> None:
    r = _script()
    old = (
        "from sandbox import Session, cli_llm, replay\n"
        "from sandbox.sweep_ray import ray_map\n"
        "from sandbox.cli import app, fail, main\n"
        "from sandbox import sweep\n"
        "def f(monkeypatch):\n"
        "    from sandbox.sweep import SweepSpec, _local_map\n"
        '    monkeypatch.setattr("sandbox.tracing.session_tracer", None)\n'
        "    return 'sandbox/cli_replay.py', 'sandbox/replay.py'\n"
    )
    rules = r._dotted_rules(r.offered())
    new = r.rewrite_imports(r.rewrite_text(old, rules), r.offered())
    assert new == (
        "from sandbox import Session\n"
        "from sandbox.cli import llm as cli_llm\n"
        "from sandbox.replay import replay\n"
        "from sandbox.sweep.on_ray import ray_map\n"
        "from sandbox.cli import app, main\n"
        "from sandbox.cli.common import fail\n"
        "from sandbox.sweep import core as sweep\n"
        "def f(monkeypatch):\n"
        "    from sandbox.sweep import SweepSpec\n"
        "    from sandbox.sweep.core import _local_map\n"
        '    monkeypatch.setattr("sandbox.tracing.tracer.session_tracer", None)\n'
        "    return 'sandbox/cli/replay.py', 'sandbox/replay/core.py'\n"
    )
    # and the result is left as it is
    assert r.rewrite_imports(r.rewrite_text(new, rules), r.offered()) == new


def test_a_module_inside_a_package_imports_from_the_defining_module() -> None:
    r = _script()
    src = "from sandbox.cli import app, console\n"
    assert r.rewrite_imports(src, r.offered(), inside="sandbox.cli") == "from sandbox.cli.common import app, console\n"


def test_the_settlement_alias_and_direct_litellm_imports_are_rewritten_in_the_packages() -> None:
    r = _script()
    src = "from protocols import settlement as st\nimport litellm\n\nx = st.fine(1)\nfrom litellm import CustomLLM\n"
    out = r.rewrite_conventions(r.ROOT / "sandbox" / "new_module.py", src)
    assert out == (
        "from protocols import settlement\nfrom agents.llm.lite import litellm\n\nx = settlement.fine(1)\n"
        "from agents.llm.lite import CustomLLM\n"
    )
    assert r.rewrite_conventions(r.ROOT / "agents" / "llm" / "lite.py", src) == src  # the door itself
    assert r.rewrite_conventions(r.ROOT / "tests" / "test_x.py", src) == src  # tests are left as they are
