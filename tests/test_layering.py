"""The import rules of docs/architecture.md: who may import whom among the five packages, and no circles."""

from __future__ import annotations

import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
ALLOWED = {
    "protocols": set(),
    "agents": {"protocols"},
    "traces": {"protocols"},
    "sandbox": {"protocols", "agents", "traces"},
    "ui": {"protocols", "traces", "sandbox"},
}
THIRD_PARTY_FORBIDDEN_IN_PROTOCOLS = {
    "sqlalchemy",
    "sqlmodel",
    "litellm",
    "langgraph",
    "streamlit",
    "opentelemetry",
    "requests",
    "httpx",
}


def _imports(path: pathlib.Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text())
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            out.append((node.lineno, node.module))
    return out


@pytest.mark.parametrize("pkg", sorted(ALLOWED))
def test_package_imports_only_what_design_allows(pkg: str) -> None:
    bad = []
    files = list((ROOT / pkg).rglob("*.py"))
    assert files, f"package {pkg} has no modules"
    for f in files:
        for line, name in _imports(f):
            root = name.split(".")[0]
            if root in ALLOWED and root != pkg and root not in ALLOWED[pkg]:
                bad.append(f"{f.relative_to(ROOT)}:{line} imports {name}")
            if pkg == "protocols" and root in THIRD_PARTY_FORBIDDEN_IN_PROTOCOLS:
                bad.append(f"{f.relative_to(ROOT)}:{line} imports {name} (protocols must stay pure)")
    assert not bad, "\n".join(bad)


def test_nothing_imports_ui() -> None:
    for pkg in ("protocols", "agents", "traces", "sandbox"):
        for f in (ROOT / pkg).rglob("*.py"):
            assert all(n.split(".")[0] != "ui" for _, n in _imports(f)), f"{f} imports ui"


def test_only_traces_configures_the_otel_sdk() -> None:
    for pkg in ("protocols", "agents", "sandbox", "ui"):
        for f in (ROOT / pkg).rglob("*.py"):
            for line, name in _imports(f):
                assert not name.startswith("opentelemetry.sdk"), (
                    f"{f}:{line} imports {name}; only traces may use the SDK"
                )


# ---------------------------------------------------------------- no circles between modules


def _module_name(path: pathlib.Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _type_checking_only(tree: ast.AST) -> set[int]:
    """ids of the nodes under ``if TYPE_CHECKING:`` (those imports never run)."""
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If):
            test = node.test
            name = test.id if isinstance(test, ast.Name) else test.attr if isinstance(test, ast.Attribute) else ""
            if name == "TYPE_CHECKING":
                skip |= {id(n) for stmt in node.body for n in ast.walk(stmt)}
    return skip


def import_graph(pkgs: tuple[str, ...] = tuple(ALLOWED)) -> dict[str, dict[str, int]]:
    """module -> {module it imports: line}, for every import that runs (module level or inside a function).

    ``from pkg import name`` is an edge to ``pkg.name`` when that is a module, else to ``pkg`` (its
    ``__init__``). Importing ``a.b.c`` also runs ``a`` and ``a.b``; those implicit parent edges are left
    out, as every module would otherwise sit in a circle with its package's ``__init__``.
    """
    files = {_module_name(p): p for pkg in pkgs for p in (ROOT / pkg).rglob("*.py")}
    graph: dict[str, dict[str, int]] = {}
    for mod, path in files.items():
        tree = ast.parse(path.read_text())
        skip = _type_checking_only(tree)
        is_pkg = path.name == "__init__.py"
        out: dict[str, int] = {}
        for node in ast.walk(tree):
            if id(node) in skip:
                continue
            if isinstance(node, ast.Import):
                for a in node.names:
                    parts = a.name.split(".")
                    while parts and ".".join(parts) not in files:
                        parts.pop()
                    if parts:
                        out.setdefault(".".join(parts), node.lineno)
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = mod.split(".") if is_pkg else mod.split(".")[:-1]
                    base = base[: len(base) - (node.level - 1)]
                    src = ".".join(base + ([node.module] if node.module else []))
                else:
                    src = node.module or ""
                for a in node.names:
                    target = f"{src}.{a.name}" if f"{src}.{a.name}" in files else src
                    if target in files:
                        out.setdefault(target, node.lineno)
        out.pop(mod, None)
        graph[mod] = out
    return graph


def circles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            v, it = work[-1]
            w = next(it, None)
            if w is not None:
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(graph[w]))))
                elif w in on_stack:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                if len(comp) > 1:
                    found.append(sorted(comp))
    return found


def _describe(graph: dict[str, dict[str, int]], comp: list[str]) -> str:
    members = set(comp)
    arrows = [
        f"    {m.replace('.', '/')}.py:{line} imports {t}"
        for m in comp
        for t, line in sorted(graph[m].items())
        if t in members
    ]
    return f"circle of {len(comp)} modules: {' <-> '.join(comp)}\n" + "\n".join(arrows)


@pytest.mark.parametrize("pkg", sorted(ALLOWED))
def test_no_import_circle_between_modules(pkg: str) -> None:
    graph = import_graph((pkg,))
    found = circles(graph)
    assert not found, (
        "modules import each other in a circle (only imports under `if TYPE_CHECKING:` may close one):\n"
        + "\n".join(_describe(graph, comp) for comp in found)
    )


def test_the_circle_finder_sees_function_level_imports_and_skips_type_checking() -> None:
    graph = {"a": {"b": 1}, "b": {"c": 2}, "c": {"a": 3}, "d": {"a": 4}}
    assert circles(graph) == [["a", "b", "c"]]
    assert circles({"a": {"b": 1}, "b": {}}) == []
    tree = ast.parse("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import x\ndef f():\n    import y\n")
    skipped = _type_checking_only(tree)
    kept = [n.names[0].name for n in ast.walk(tree) if isinstance(n, ast.Import) and id(n) not in skipped]
    assert kept == ["y"]
