"""A span's attributes as the ``spans`` table holds them: the JSON text and the attributes kept in columns.

``encode_attributes`` writes ``attributes_json``; ``COLUMN_ATTRIBUTES`` names the attributes that live in
their own column (agent, round, thread, action, verdict, model, tokens), ``_move_columns`` and
``_columns_out`` move them there when a row is made, and ``attributes_of`` puts them back when a row
is read. The small formatters of ids and enum names every span row uses are here too. The table and
the row shapes are in ``traces/spans.py``, which re-exports these names.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from protocols import semconv as sc
from traces.redact import cap_text

# one encoder for every row: json.dumps with options builds a new JSONEncoder on each call
_ENCODER = json.JSONEncoder(default=str, separators=(",", ":"))
_json = _ENCODER.encode

_dumps: Callable[..., bytes] | None
try:  # orjson is installed with the LLM stack (langsmith); without it every row goes through json
    from orjson import dumps as _dumps
except ImportError:  # pragma: no cover
    _dumps = None


_PLAIN = frozenset((str, int, bool, type(None)))


def encode_attributes(attrs: dict[str, Any]) -> str:
    """The attributes as ``attributes_json`` holds them: ``_json(attrs)``'s text, through orjson (~3x faster)
    where orjson writes exactly what json writes.

    It does for str, int, bool and None values whose output is ASCII without DEL (json escapes
    other characters as ``\\uXXXX``); anything else (floats: json's and orjson's exponents differ;
    sequences, subclasses, what orjson refuses such as big ints and lone surrogates) goes through json.
    """
    if _dumps is not None:
        for value in attrs.values():  # a loop: issuperset(map(type, ...)) builds a set, about twice the time
            if type(value) not in _PLAIN:
                return _json(attrs)
        try:
            out = _dumps(attrs)
        except TypeError:
            return _json(attrs)
        if out.isascii() and 0x7F not in out:  # an int needle is a memchr; a bytes needle costs ten times more
            return out.decode()
    return _json(attrs)


def _attributes(span: Any) -> dict[str, Any]:
    """A copy of the span's attributes; the SDK's BoundedAttributes copied directly, not key by key."""
    raw = getattr(span, "_attributes", None)
    inner = getattr(raw, "_dict", None)
    if isinstance(inner, dict):
        return dict(inner)
    return dict(span.attributes or ())


def _hex_span(span_id: int) -> str:
    return "%016x" % span_id  # noqa: UP031  (format(span_id, "016x") takes twice the time)


_NAMES: dict[Any, str] = {}  # SpanKind / StatusCode member -> its name (an enum's .name is a slow descriptor)
_TRACE_HEX: dict[int, str] = {}  # a run's spans share a few trace ids; formatted once each


def _name(member: Any) -> str:
    found = _NAMES.get(member)
    if found is None:
        found = _NAMES[member] = member.name
    return found


def _trace_hex(trace_id: int) -> str:
    found = _TRACE_HEX.get(trace_id)
    if found is None:
        if len(_TRACE_HEX) > 1024:  # many short runs in one process: start over rather than grow
            _TRACE_HEX.clear()
        found = _TRACE_HEX[trace_id] = format(trace_id, "032x")
    return found


def _capped(attributes: Any) -> dict[str, Any]:
    # an exception's message and stack can be megabytes when an agent raises one built to be
    return {k: cap_text(v, 8000) if isinstance(v, str) else v for k, v in (attributes or {}).items()}


COLUMN_ATTRIBUTES: tuple[tuple[str, str, type], ...] = (
    (sc.AGENT_ID, "agent_id", str),
    (sc.ROUND, "round", int),
    (sc.THREAD_ID, "thread_id", str),
    (sc.ACTION_TYPE, "action_type", str),
    (sc.VERDICT, "verdict", str),
    (sc.VERDICT_RULE, "rule", str),
    (sc.GEN_AI_REQUEST_MODEL, "model", str),
    (sc.GEN_AI_INPUT_TOKENS, "input_tokens", int),
    (sc.GEN_AI_OUTPUT_TOKENS, "output_tokens", int),
)
"""(attribute, column, type): an attribute whose value has exactly this type lives in its column only.

A value of another type (a round given as text, a bool) stays in ``attributes_json`` as well, so
reading it back gives the value as it was set, not as the column converted it.
"""


_COLUMN_OF = {key: (column, kind) for key, column, kind in COLUMN_ATTRIBUTES}
_NO_COLUMNS = dict.fromkeys(column for _, column, _ in COLUMN_ATTRIBUTES)  # every column None, in order
_COLUMN_KEYS = frozenset(_COLUMN_OF)


def _move_columns(attrs: dict[str, Any], row: dict[str, Any]) -> None:
    """Move the attributes ``COLUMN_ATTRIBUTES`` names out of ``attrs`` into ``row``'s columns.

    The one mapping of attributes to columns, for spans made by the SDK and made as rows alike.
    """
    row.update(_NO_COLUMNS)
    _columns_out(attrs, row)


def _columns_out(attrs: dict[str, Any], row: dict[str, Any]) -> None:
    """``_move_columns`` for a row whose columns are already there (None)."""
    for key in _COLUMN_KEYS.intersection(attrs):
        value = attrs.pop(key)
        column, kind = _COLUMN_OF[key]
        row[column] = value
        if type(value) is not kind:
            attrs[key] = value  # kept in the JSON too: the column cannot say what type it had


def attributes_of(row: Any) -> dict[str, Any]:
    """Every attribute of a stored span: ``attributes_json`` with the column-held ones put back.

    ``row`` is a ``SpanRow`` or a mapping of its columns. Rows written before columns held their
    attributes alone carry them in the JSON too; the JSON's value is kept then.
    """
    get = row.get if isinstance(row, Mapping) else lambda name: getattr(row, name, None)
    attrs: dict[str, Any] = json.loads(get("attributes_json") or "{}")
    for key, column, _ in COLUMN_ATTRIBUTES:
        value = get(column)
        if value is not None and key not in attrs:
            attrs[key] = value
    return attrs


def attributes_json_of(row: Any) -> str:
    """``attributes_of(row)`` as JSON text (for readers that hand the attributes on as text)."""
    return _json(attributes_of(row))
