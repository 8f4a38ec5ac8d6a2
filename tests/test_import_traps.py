"""Import traps of issue 18 stay closed: a package's name is the package, importing ``sandbox`` changes
no environment, litellm loads only through ``agents.llm.lite`` (which sets its cost-map variable first),
and ``st`` always means streamlit in the packages."""

from __future__ import annotations

import ast
import os
import pathlib
import subprocess
import sys
import types

ROOT = pathlib.Path(__file__).resolve().parents[1]
PACKAGES = ("protocols", "agents", "traces", "sandbox", "ui")
VAR = "LITELLM_LOCAL_MODEL_COST_MAP"


def _python(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k != VAR}
    clean["PYTHONPATH"] = str(ROOT) + os.pathsep + clean.get("PYTHONPATH", "")
    clean.update(env)
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=clean, capture_output=True, text=True)


def _modules() -> list[pathlib.Path]:
    return [p for pkg in PACKAGES for p in sorted((ROOT / pkg).rglob("*.py"))]


def test_import_sandbox_replay_gives_the_package_and_the_function_is_inside() -> None:
    import sandbox.replay
    from sandbox.replay import replay

    assert isinstance(sandbox.replay, types.ModuleType)
    assert sandbox.replay.__name__ == "sandbox.replay"
    assert replay is sandbox.replay.core.replay
    import sandbox as top

    assert top.replay is sys.modules["sandbox.replay"]


def test_no_package_init_binds_a_name_its_submodule_owns() -> None:
    """``from pkg.sub import sub`` in ``pkg/__init__`` would make ``import pkg.sub`` give the function."""
    bad = []
    for init in (p for p in _modules() if p.name == "__init__.py"):
        pkg = ".".join(init.parent.relative_to(ROOT).parts)
        subs = {p.stem for p in init.parent.glob("*.py") if p.stem != "__init__"}
        subs |= {p.name for p in init.parent.iterdir() if (p / "__init__.py").exists()}
        for node in ast.parse(init.read_text()).body:
            if isinstance(node, ast.ImportFrom):
                for a in node.names:
                    bound = a.asname or a.name
                    is_the_submodule = node.module == pkg and a.name == bound
                    if bound in subs and not is_the_submodule:
                        bad.append(f"{init.relative_to(ROOT)}:{node.lineno} binds {bound} from {node.module}")
            elif isinstance(node, (ast.FunctionDef, ast.ClassDef)) and node.name in subs:
                bad.append(f"{init.relative_to(ROOT)}:{node.lineno} defines {node.name}")
    assert not bad, "\n".join(bad)


def test_importing_sandbox_sets_no_environment_variable_and_loads_no_litellm() -> None:
    out = _python(
        "import os, sys\nbefore = dict(os.environ)\nimport sandbox, sandbox.cli, agents.llm\n"
        "print(sorted(set(os.environ.items()) ^ set(before.items())), 'litellm' in sys.modules)"
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["[]", "False"]


def test_litellm_loads_through_agora_only_after_its_cost_map_variable_is_set() -> None:
    spy = (
        "import os, sys\nseen = []\n"
        "class Spy:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        f"        if name == 'litellm': seen.append(os.environ.get('{VAR}'))\n"
        "sys.meta_path.insert(0, Spy())\n"
    )
    out = _python(spy + "import sandbox.replay.llm\nimport agents.llm.scripted_model\nprint(seen)")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "['True']"
    # a value the caller chose is kept
    out = _python(spy + "import agents.llm.lite\nprint(seen)", **{VAR: "False"})
    assert out.stdout.strip() == "['False']", out.stderr


def test_only_agents_llm_lite_imports_litellm() -> None:
    bad = []
    for path in _modules():
        for node in ast.walk(ast.parse(path.read_text())):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom) and not node.level
                else []
            )
            if any(n.split(".")[0] == "litellm" for n in names) and path != ROOT / "agents/llm/lite.py":
                bad.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not bad, "import litellm through agents.llm.lite: " + ", ".join(bad)


def test_the_alias_st_always_means_streamlit() -> None:
    """In the packages and benchmarks (tests keep hypothesis's own ``strategies as st`` convention)."""
    bad = []
    for path in [*_modules(), *sorted((ROOT / "benchmarks").glob("*.py"))]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                for a in node.names:
                    full = f"{node.module}.{a.name}" if isinstance(node, ast.ImportFrom) else a.name
                    if a.asname == "st" and full != "streamlit":
                        bad.append(f"{path.relative_to(ROOT)}:{node.lineno} imports {full} as st")
    assert not bad, "\n".join(bad)
