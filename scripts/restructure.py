"""Move the flat ``sandbox/`` modules into packages and rewrite every reference to them (issue 18).

Usage (from the repository root, with the project's Python)::

    python scripts/restructure.py            # move what is still flat, rewrite references, format changed files
    python scripts/restructure.py --check    # change nothing; list what would change, exit 1 if anything would
    python scripts/restructure.py --no-format

Re-runnable and idempotent: on a tree already moved it changes nothing; after a merge brings in a
file that still names an old module (``from sandbox.sweep_ray import``, ``"sandbox.cli_llm.x"`` in a
monkeypatch string, ``sandbox/cli_replay.py`` in a doc) it rewrites that file. A module that exists
at both its old and its new path (a merge that did not follow the rename) is reported, not touched.

What it rewrites, in every tracked or new (not ignored) text file except this one:

- dotted names of the old flat modules: ``sandbox.cli_llm`` -> ``sandbox.cli.llm``;
- ``sandbox.<pkg>.<name>`` where ``<pkg>`` was a module and is now a package of the same name and
  ``<name>`` is not one of its submodules: ``sandbox.sweep.run_cell`` -> ``sandbox.sweep.core.run_cell``
  (so monkeypatch strings patch the module that defines the name);
- ``from sandbox.<pkg> import a, b`` keeps the names the package's ``__init__`` binds and moves the
  others to the module that now defines them;
- ``from sandbox import cli_llm`` -> ``from sandbox.cli import llm as cli_llm``; ``from sandbox import
  sweep`` -> ``from sandbox.sweep import core as sweep`` (the module it was, so ``monkeypatch.setattr(sweep,
  ...)`` still patches where the name is used); ``from sandbox import replay`` (which used to give the
  function) -> ``from sandbox.replay import replay``;
- file paths: ``sandbox/cli_replay.py`` -> ``sandbox/cli/replay.py``.

- in the packages' modules: ``from protocols import settlement as st`` -> ``from protocols import
  settlement`` (and ``st.x`` -> ``settlement.x`` in that file: ``st`` means streamlit), and ``import
  litellm`` / ``from litellm import X`` -> ``from agents.llm.lite import ...`` (the one module that
  imports litellm, after setting ``LITELLM_LOCAL_MODEL_COST_MAP``).

A line holding ``restructure: keep`` is left as it is (for prose that names an old path on purpose),
and so are dunder attributes (``sandbox.replay.__name__``).
"""

from __future__ import annotations

import argparse
import ast
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SELF = Path(__file__).resolve()
EXCLUDE = {SELF, ROOT / "tests" / "test_restructure_script.py"}  # they name the old modules on purpose
KEEP = "restructure: keep"

# old module -> new module. A package that takes its old module's name is listed with its core module.
MOVES: dict[str, str] = {
    "sandbox.cli": "sandbox.cli.core",
    "sandbox.cli_llm": "sandbox.cli.llm",
    "sandbox.cli_marketic": "sandbox.cli.marketic",
    "sandbox.cli_replay": "sandbox.cli.replay",
    "sandbox.cli_traces": "sandbox.cli.traces",
    "sandbox.cli_ui": "sandbox.cli.ui",
    "sandbox.replay": "sandbox.replay.core",
    "sandbox.llm_replay": "sandbox.replay.llm",
    "sandbox.verify": "sandbox.replay.verify",
    "sandbox.compare": "sandbox.replay.compare",
    "sandbox.sweep": "sandbox.sweep.core",
    "sandbox.sweep_ray": "sandbox.sweep.on_ray",
    "sandbox.sweep_report": "sandbox.sweep.report",
    "sandbox.safety": "sandbox.safety.layer",
    "sandbox.safety_breakers": "sandbox.safety.breakers",
    "sandbox.safety_facts": "sandbox.safety.facts",
    "sandbox.safety_cases": "sandbox.safety.cases",
    "sandbox.tracing": "sandbox.tracing.tracer",
    "sandbox.tracing_off": "sandbox.tracing.off",
}
SAME_NAME = {old: new for old, new in MOVES.items() if new.rsplit(".", 1)[0] == old}  # pkg -> its core module
RENAMED = {old: new for old, new in MOVES.items() if old not in SAME_NAME}

# What each new package's __init__ holds when the script creates it (re-exports of what outsiders import).
INITS: dict[str, str] = {
    "sandbox.cli": (
        '"""The ``agora`` command line: one module per group of commands, the shared parts in ``common``."""\n\n'
        "from sandbox.cli.core import app, main\n\n"
        '__all__ = ["app", "main"]\n'
    ),
    "sandbox.replay": (
        '"""Exact replay, fork and resume of recorded runs, the record checker, and run comparison."""\n\n'
        "from sandbox.replay.core import Replayer, ReplayError, afork, areplay, aresume, fork, replay, resume\n\n"
        '__all__ = ["ReplayError", "Replayer", "afork", "areplay", "aresume", "fork", "replay", "resume"]\n'
    ),
    "sandbox.sweep": (
        '"""Parameter sweeps: the grid, the runs (local processes or Ray), the report."""\n\n'
        "from sandbox.sweep.core import Cell, SweepResult, SweepSpec, load_result, load_sweep, run_cell, run_sweep\n\n"
        '__all__ = ["Cell", "SweepResult", "SweepSpec", "load_result", "load_sweep", "run_cell", "run_sweep"]\n'
    ),
    "sandbox.safety": (
        '"""The safety layer of a session: detectors, circuit breakers, cases and interventions."""\n\n'
        "from sandbox.safety.layer import SafetyLayer\n\n"
        '__all__ = ["SafetyLayer"]\n'
    ),
    "sandbox.tracing": (
        '"""OpenTelemetry spans of a session (``tracer``) and the do-nothing tracer (``off``)."""\n\n'
        "from sandbox.tracing.off import NoTracer\n"
        "from sandbox.tracing.tracer import SCOPE, SessionTracer, session_tracer\n\n"
        '__all__ = ["SCOPE", "NoTracer", "SessionTracer", "session_tracer"]\n'
    ),
}
MAINS = {
    "sandbox.cli": '"""``python -m sandbox.cli``: the ``agora`` command."""\n\nfrom sandbox.cli import main\n\nmain()\n'
}

TEXT_SUFFIXES = {".py", ".md", ".toml", ".yml", ".yaml", ".cfg", ".ini", ".txt", ".sh", ".ipynb", ".rst", ".json"}
TEXT_NAMES = {"run", "Makefile", "Dockerfile"}


def mod_path(mod: str) -> Path:
    return ROOT / (mod.replace(".", "/") + ".py")


def pkg_init(pkg: str) -> Path:
    return ROOT / pkg.replace(".", "/") / "__init__.py"


def git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=ROOT, check=True, capture_output=True, text=True).stdout


# ---------------------------------------------------------------- moves


def move_files(dry: bool, log: list[str]) -> None:
    for old, new in MOVES.items():
        src, dst = mod_path(old), mod_path(new)
        if src.exists() and dst.exists():
            log.append(f"CONFLICT {src.relative_to(ROOT)} and {dst.relative_to(ROOT)} both exist: merge them by hand")
            continue
        if not src.exists():
            continue
        log.append(f"move {src.relative_to(ROOT)} -> {dst.relative_to(ROOT)}")
        if not dry:
            dst.parent.mkdir(parents=True, exist_ok=True)
            git("mv", str(src.relative_to(ROOT)), str(dst.relative_to(ROOT)))
    for pkg, text in INITS.items():
        init = pkg_init(pkg)
        if not init.exists():
            log.append(f"create {init.relative_to(ROOT)}")
            if not dry:
                init.parent.mkdir(parents=True, exist_ok=True)
                init.write_text(text)
                git("add", str(init.relative_to(ROOT)))
    for pkg, text in MAINS.items():
        main = pkg_init(pkg).with_name("__main__.py")
        if not main.exists():
            log.append(f"create {main.relative_to(ROOT)}")
            if not dry:
                main.write_text(text)
                git("add", str(main.relative_to(ROOT)))


# ---------------------------------------------------------------- what each package offers


def submodules(pkg: str) -> set[str]:
    d = ROOT / pkg.replace(".", "/")
    if not d.is_dir():
        return set()
    return {p.stem for p in d.glob("*.py") if p.stem != "__init__"} | {
        p.name for p in d.iterdir() if (p / "__init__.py").exists()
    }


def bound_names(init: Path, fallback: str) -> set[str]:
    """Top-level names a package ``__init__`` binds (its template's when it does not exist yet)."""
    text = init.read_text() if init.exists() else fallback
    names: set[str] = set()
    for node in ast.parse(text).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names |= {(a.asname or a.name).split(".")[0] for a in node.names}
        elif isinstance(node, ast.Assign):
            names |= {t.id for t in node.targets if isinstance(t, ast.Name)}
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    return names


def offered() -> dict[str, set[str]]:
    return {pkg: bound_names(pkg_init(pkg), INITS.get(pkg, "")) | submodules(pkg) for pkg in SAME_NAME}


def definers() -> dict[str, dict[str, str]]:
    """For each package that took its old module's name: name -> the submodule that defines it.

    A name defined by none (or by the core module) maps to the core module.
    """
    out: dict[str, dict[str, str]] = {}
    for pkg, core in SAME_NAME.items():
        found: dict[str, str] = {}
        for sub in sorted(submodules(pkg)):
            path = mod_path(f"{pkg}.{sub}")
            if not path.exists():
                continue
            for node in ast.parse(path.read_text()).body:
                names: list[str] = []
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                    names = [node.name]
                elif isinstance(node, ast.Assign):
                    names = [t.id for t in node.targets if isinstance(t, ast.Name)]
                elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                    names = [node.target.id]
                for name in names:
                    if found.get(name) != core:  # the core module wins a tie
                        found[name] = f"{pkg}.{sub}"
        out[pkg] = found
    return out


DEFINERS: dict[str, dict[str, str]] = {}


def home(pkg: str, name: str) -> str:
    return DEFINERS.get(pkg, {}).get(name, SAME_NAME[pkg])


# ---------------------------------------------------------------- rewriting


def _alias(a: ast.alias) -> str:
    return a.name if a.asname is None else f"{a.name} as {a.asname}"


def _from(mod: str, names: list[str]) -> str:
    return f"from {mod} import {', '.join(names)}"


def rewrite_imports(src: str, offers: dict[str, set[str]], inside: str | None = None) -> str:
    """Rewrite ``from sandbox import <old module>`` and ``from <pkg> import <names it lacks>``.

    ``inside`` is the package the file belongs to: its own modules import each name from the
    module that defines it, never through the package's ``__init__`` (which would be a circle).
    """
    try:
        tree = ast.parse(src)
    except SyntaxError:
        return src
    lines = src.splitlines(keepends=True)
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line))
    edits: list[tuple[int, int, str]] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.ImportFrom) or node.level or node.end_lineno is None:
            continue
        out: list[tuple[str, list[str]]] = []
        if node.module == "sandbox":
            keep: list[str] = []
            for a in node.names:
                old = f"sandbox.{a.name}"
                if old in RENAMED:
                    pkg, leaf = RENAMED[old].rsplit(".", 1)
                    out.append((pkg, [leaf if leaf == (a.asname or a.name) else f"{leaf} as {a.asname or a.name}"]))
                elif a.name == "replay":  # it was the function; the name is now the package
                    out.append(("sandbox.replay", [_alias(a)]))
                elif old in SAME_NAME:  # it was the module that is now the package's core
                    pkg, leaf = SAME_NAME[old].rsplit(".", 1)
                    out.append((pkg, [f"{leaf} as {a.asname or a.name}"]))
                else:
                    keep.append(_alias(a))
            if not out:
                continue
            if keep:
                out.insert(0, ("sandbox", keep))
        elif node.module in SAME_NAME:
            pkg = node.module
            subs = submodules(pkg)
            for a in node.names:
                stays = a.name == "*" or a.name in subs or (a.name in offers[pkg] and inside != pkg)
                out.append((pkg if stays else home(pkg, a.name), [_alias(a)]))
            if all(mod == pkg for mod, _ in out):
                continue
        else:
            continue
        merged: dict[str, list[str]] = {}
        for mod, names in out:
            merged.setdefault(mod, []).extend(names)
        indent = " " * node.col_offset
        text = ("\n" + indent).join(_from(mod, names) for mod, names in merged.items())
        a = starts[node.lineno - 1] + node.col_offset
        b = starts[node.end_lineno - 1] + (node.end_col_offset or 0)
        if KEEP in src[starts[node.lineno - 1] : starts[node.end_lineno]]:
            continue
        edits.append((a, b, text))
    for a, b, text in sorted(edits, reverse=True):
        src = src[:a] + text + src[b:]
    return src


def _dotted_rules(offers: dict[str, set[str]]) -> list[tuple[re.Pattern[str], Any]]:
    rules: list[tuple[re.Pattern[str], Any]] = []
    for old, new in RENAMED.items():
        rules.append((re.compile(rf"(?<![\w.]){re.escape(old)}(?!\w)"), new))
        rules.append(
            (re.compile(rf"(?<![\w./]){re.escape(old.replace('.', '/'))}\.py\b"), new.replace(".", "/") + ".py")
        )
    for pkg, core in SAME_NAME.items():
        subs = "|".join(sorted(submodules(pkg) | {core.rsplit(".", 1)[1]}))
        rules.append(
            (
                re.compile(rf"(?<![\w.]){re.escape(pkg)}\.(?!(?:{subs})\b|__)([A-Za-z_]\w*)(?!\w)"),
                lambda m, pkg=pkg: f"{home(pkg, m.group(1))}.{m.group(1)}",
            )
        )
        rules.append(
            (re.compile(rf"(?<![\w./]){re.escape(pkg.replace('.', '/'))}\.py\b"), core.replace(".", "/") + ".py")
        )
    return rules


def rewrite_text(src: str, rules: list[tuple[re.Pattern[str], Any]]) -> str:
    out = []
    for line in src.splitlines(keepends=True):
        if KEEP not in line:
            for pat, repl in rules:
                line = pat.sub(repl, line)
        out.append(line)
    return "".join(out)


def rewrite_notebook(src: str, offers: dict[str, set[str]], rules: list[tuple[re.Pattern[str], Any]]) -> str:
    nb = json.loads(src)
    changed = False
    for cell in nb.get("cells", []):
        text = "".join(cell.get("source", []))
        new = rewrite_text(text, rules)
        if cell.get("cell_type") == "code":
            new = rewrite_imports(new, offers)
        if new != text:
            cell["source"] = new.splitlines(keepends=True)
            changed = True
    return json.dumps(nb, indent=1, ensure_ascii=False) + "\n" if changed else src


PACKAGES = ("protocols", "agents", "traces", "sandbox", "ui")
LITE = ROOT / "agents" / "llm" / "lite.py"
ST_ALIAS = re.compile(r"^([ \t]*)from protocols import settlement as st[ \t]*$", re.M)
ST_USE = re.compile(r"(?<![\w.])st\.")
IMPORT_LITELLM = re.compile(r"^([ \t]*)import litellm[ \t]*$", re.M)
FROM_LITELLM = re.compile(r"^([ \t]*)from litellm import ([\w, ]+?)[ \t]*$", re.M)


def rewrite_conventions(p: Path, src: str) -> str:
    """The ``st`` alias and the one door to litellm, in the packages' modules."""
    rel = p.relative_to(ROOT)
    if rel.parts[0] not in PACKAGES or p.resolve() == LITE:
        return src
    if ST_ALIAS.search(src) and "streamlit" not in src:
        src = ST_USE.sub("settlement.", ST_ALIAS.sub(r"\1from protocols import settlement", src))
    src = IMPORT_LITELLM.sub(r"\1from agents.llm.lite import litellm", src)
    offered = bound_names(LITE, "") if LITE.exists() else set()

    def from_lite(m: re.Match[str]) -> str:
        names = [n.strip() for n in m.group(2).split(",") if n.strip()]
        return f"{m.group(1)}from agents.llm.lite import {m.group(2)}" if set(names) <= offered else m.group(0)

    return FROM_LITELLM.sub(from_lite, src)


def candidate_files() -> list[Path]:
    names = git("ls-files", "--cached", "--others", "--exclude-standard").splitlines()
    out = []
    for name in names:
        p = ROOT / name
        if p.resolve() in EXCLUDE or not p.is_file():
            continue
        if p.suffix in TEXT_SUFFIXES or p.name in TEXT_NAMES:
            out.append(p)
    return out


def package_of(p: Path) -> str | None:
    rel = p.relative_to(ROOT).with_suffix("")
    parent = ".".join(rel.parts[:-1])
    return parent if parent in SAME_NAME else None


def rewrite_all(dry: bool, log: list[str]) -> list[Path]:
    DEFINERS.clear()
    DEFINERS.update(definers())
    offers = offered()
    rules = _dotted_rules(offers)
    changed = []
    for p in candidate_files():
        try:
            src = p.read_text()
        except (UnicodeDecodeError, OSError):
            continue
        if p.suffix == ".ipynb":
            new = rewrite_notebook(src, offers, rules)
        else:
            new = rewrite_text(src, rules)
            if p.suffix == ".py":
                new = rewrite_imports(rewrite_conventions(p, new), offers, package_of(p))
        if new != src:
            changed.append(p)
            log.append(f"rewrite {p.relative_to(ROOT)}")
            if not dry:
                p.write_text(new)
    return changed


def format_files(files: list[Path]) -> None:
    py = [str(p) for p in files if p.suffix == ".py"]
    ruff = shutil.which("ruff") or str(Path(sys.executable).with_name("ruff"))
    if not py or not Path(ruff).exists():
        return
    subprocess.run([ruff, "check", "--fix", "--select", "I", "--quiet", *py], cwd=ROOT, check=False)
    subprocess.run([ruff, "format", "--quiet", *py], cwd=ROOT, check=False)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--check", action="store_true", help="change nothing; exit 1 if anything would change")
    ap.add_argument("--no-format", action="store_true", help="do not run ruff on the rewritten Python files")
    args = ap.parse_args(argv)
    log: list[str] = []
    move_files(args.check, log)
    if args.check and any(line.startswith(("move", "create")) for line in log):
        print("\n".join(log))
        print("(references are rewritten after the moves; run without --check to see all)")
        return 1
    changed = rewrite_all(args.check, log)
    if changed and not args.check and not args.no_format:
        format_files(changed)
    print("\n".join(log) if log else "nothing to do: every module is in place and every reference is current")
    conflict = any(line.startswith("CONFLICT") for line in log)
    return 1 if (args.check and log) or conflict else 0


if __name__ == "__main__":
    sys.exit(main())
