"""Bounds on what a scenario file or ``Session.spawn`` may ask for, and the checks behind them.

Every count, size and seed has a bound so that a mistake (or a hostile file) is refused in
one sentence instead of exhausting memory, hanging or overflowing the store's 64-bit
integers. docs/scenarios.md lists the bounds; docs/reliability.md says why they exist.
"""

from __future__ import annotations

import ast
import inspect
import textwrap
import unicodedata
from functools import cache
from typing import Any

MAX_AGENTS = 100_000
"""Agents in one run, over every population group."""
MAX_UNITS = 1_000_000
"""Demand or capacity of one agent; a run's groups together may want or offer ten times this."""
MAX_MONEY = 1e9
"""Largest budget, value, cost or price in currency units (micro-units must fit 64-bit sums)."""
MAX_NAME = 100
"""Longest scenario or service name."""


def check_printable(text: str, what: str, *, max_len: int = MAX_NAME, newlines: bool = False) -> str:
    """``text`` if it is printable and short enough, else ``ValueError`` saying which character is wrong.

    Control characters and invisible formatting (right-to-left overrides, zero-width joiners)
    would reach run ids, file names and terminals, where they hide or reorder what is shown.
    """
    if len(text) > max_len:
        raise ValueError(f"{what} may have at most {max_len} characters, got {len(text)}")
    for i, ch in enumerate(text):
        if newlines and ch in "\n\t":
            continue
        cat = unicodedata.category(ch)
        if cat[0] == "C" or cat in ("Zl", "Zp"):
            name = unicodedata.name(ch, f"U+{ord(ch):04X}")
            raise ValueError(f"{what} must be printable; character {i + 1} is {name} (U+{ord(ch):04X})")
    return text


_SKIP = frozenset({"self", "agent_id", "role", "rng"})


@cache
def _params_read(cls: type) -> frozenset[str] | None:
    """Parameter names an agent class accepts, or None when it cannot be told (any is accepted).

    The names are the keywords of its ``__init__`` and the literal keys its code reads with
    ``self.params.get("name")`` or ``self.params["name"]``, over the class and its bases
    (``Agent`` itself reads none this way); a class may also declare ``known_params`` (``Agent``
    declares those every agent takes, such as ``wake``).
    """
    from agents.base import Agent

    names: set[str] = set()
    for klass in cls.__mro__:
        names |= set(klass.__dict__.get("known_params", ()) or ())
        if klass in (Agent, object):
            continue
        init = klass.__dict__.get("__init__")
        if init is not None:
            for p in inspect.signature(init).parameters.values():
                if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD) and p.name not in _SKIP:
                    names.add(p.name)
        try:
            tree = ast.parse(textwrap.dedent(inspect.getsource(klass)))
        except (OSError, TypeError, SyntaxError):
            return None  # no source to read (defined in a REPL, say): accept what it is given
        parents = {id(child): node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
        for node in ast.walk(tree):
            if not (
                isinstance(node, ast.Attribute)
                and node.attr == "params"
                and isinstance(node.value, ast.Name)
                and node.value.id == "self"
            ):
                continue
            up = parents.get(id(node))
            key = None
            if isinstance(up, ast.Subscript) and isinstance(up.slice, ast.Constant):
                key = up.slice.value
            elif isinstance(up, ast.Attribute) and up.attr == "get":
                call = parents.get(id(up))
                if isinstance(call, ast.Call) and call.args and isinstance(call.args[0], ast.Constant):
                    key = call.args[0].value
            if not isinstance(key, str):
                return None  # the class reads its parameters in a way we cannot follow
            names.add(key)
    return frozenset(names)


@cache
def _non_negative(cls: type) -> frozenset[str]:
    """Keywords of ``cls.__init__`` (and its bases') whose default is None or a number >= 0: counts, budgets, times."""
    out: set[str] = set()
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None or klass is object:
            continue
        for p in inspect.signature(init).parameters.values():
            d = p.default
            if p.name not in _SKIP and p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD):
                if d is None or (isinstance(d, (int, float)) and not isinstance(d, bool) and d >= 0):
                    out.add(p.name)
    return frozenset(out)


def unknown_params(cls: type, params: dict[str, Any]) -> str | None:
    """One sentence naming the parameters ``cls`` does not know (or a negative count, budget or time), or None."""
    kind = getattr(cls, "kind", cls.__name__)
    known = _params_read(cls)
    bad = [] if known is None else sorted(str(k) for k in params if k not in known)
    if bad:
        accepted = ", ".join(sorted(known or ())) or "none"
        return f"agent type '{kind}' has no parameter {', '.join(repr(b) for b in bad)} (it accepts: {accepted})"
    for name in sorted(_non_negative(cls) & set(params)):
        value = params[name]
        if isinstance(value, (int, float)) and not isinstance(value, bool) and not 0 <= value < float("inf"):
            return f"parameter '{name}' of agent type '{kind}' must be a finite number >= 0, got {value!r}"
    return None
