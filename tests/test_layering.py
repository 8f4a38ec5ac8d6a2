"""The import rules of docs/architecture.md: who may import whom among the five packages."""

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
