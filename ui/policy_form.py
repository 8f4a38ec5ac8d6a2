"""The incentive policy as a form, built from ``IncentivePolicy``'s own fields and validated by it.

Scalars become number inputs, checkboxes or choices; anything structured (fines by rule,
nested rules) is edited as JSON. New policy fields appear in the form without a change here.
"""

from __future__ import annotations

import enum
import json
import typing
from typing import Any

import streamlit as st
from pydantic import BaseModel, ValidationError

from protocols.policy import IncentivePolicy


def _choices(annotation: Any) -> list[Any] | None:
    if typing.get_origin(annotation) is typing.Literal:
        return list(typing.get_args(annotation))
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return [m.value for m in annotation]
    return None


def fields(current: dict[str, Any], key: str, notes: dict[str, str] | None = None) -> dict[str, Any]:
    """Render one input per policy field (inside a form); returns what was entered, JSON still as text.

    ``notes`` maps a field's label (dotted for nested fields) to a line shown under its input.
    """
    return _render(IncentivePolicy, current, key, "", notes or {})


def _render(
    model: type[BaseModel], current: dict[str, Any], key: str, prefix: str, notes: dict[str, str]
) -> dict[str, Any]:
    entered: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        ann, value, help_ = info.annotation, current.get(name), info.description
        label, wkey = f"{prefix}{name}", f"{key}.{prefix}{name}"
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            st.caption(f"{label}: {ann.__doc__.splitlines()[0] if ann.__doc__ else ''}")
            entered[name] = _render(ann, value or {}, key, f"{label}.", notes)
        elif ann is bool:
            entered[name] = st.checkbox(label, value=bool(value), help=help_, key=wkey)
        elif ann is float or ann is int:
            step = 1 if ann is int else 0.001
            num = int if ann is int else float  # ``ann`` itself, typed as a number type
            entered[name] = st.number_input(
                label, value=num(value or 0), step=step, help=help_, key=wkey, format="%d" if ann is int else "%.4f"
            )
        elif (options := _choices(ann)) is not None:
            entered[name] = st.selectbox(
                label, options, index=options.index(value) if value in options else 0, help=help_, key=wkey
            )
        elif ann is str:
            entered[name] = st.text_input(label, value=str(value or ""), help=help_, key=wkey)
        else:
            entered[name] = _Json(
                st.text_area(f"{label} (JSON)", value=json.dumps(value, indent=1, sort_keys=True), help=help_, key=wkey)
            )
        if label in notes:
            st.caption(notes[label])
    return entered


class _Json(str):
    """Text of a JSON field, parsed on validation."""


def validate(current: dict[str, Any], entered: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The changed fields as a validated policy sees them, or the errors (one sentence each)."""
    candidate = dict(current)
    errors: list[str] = []
    candidate.update(_parse(entered, "", errors))
    if errors:
        return {}, errors
    try:
        policy = IncentivePolicy.model_validate(candidate).model_dump(mode="json")
    except ValidationError as err:
        return {}, [f"{'.'.join(str(p) for p in e['loc']) or 'policy'}: {e['msg']}" for e in err.errors()]
    return {k: v for k, v in policy.items() if current.get(k) != v}, []


def _parse(entered: dict[str, Any], prefix: str, errors: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in entered.items():
        if isinstance(value, dict):
            out[name] = _parse(value, f"{prefix}{name}.", errors)
        elif isinstance(value, _Json):
            try:
                out[name] = json.loads(value)
            except json.JSONDecodeError as err:
                errors.append(f"{prefix}{name}: not valid JSON ({err.msg} at line {err.lineno}); fix the text")
        else:
            out[name] = value
    return out


def diff(old: dict[str, Any], new: dict[str, Any]) -> str:
    """What changed between two policies, one ``field: old -> new`` per line (nested dicts by key)."""
    lines = []
    for k in sorted(set(old) | set(new)):
        a, b = old.get(k), new.get(k)
        if a == b:
            continue
        if isinstance(a, dict) and isinstance(b, dict):
            for sub in sorted(set(a) | set(b)):
                if a.get(sub) != b.get(sub):
                    lines.append(f"{k}.{sub}: {a.get(sub)} -> {b.get(sub)}")
        else:
            lines.append(f"{k}: {a} -> {b}")
    return "\n".join(lines)
