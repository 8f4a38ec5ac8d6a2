"""Attributes held by a column are written once (in the column) and read back as attributes everywhere."""

from __future__ import annotations

import json
import sqlite3

from opentelemetry.sdk.trace import TracerProvider
from traces_helpers import tiny

from protocols import semconv as sc
from sandbox import Session
from traces import Store, frames, trace_read
from traces.spans import COLUMN_ATTRIBUTES, SpanRow, attributes_of, span_row, write_spans


def test_column_attributes_are_not_repeated_in_the_json_and_read_back(tmp_path) -> None:
    db = str(tmp_path / "c.db")
    r = Session(tiny(rounds=4), store=db).run()
    raw = sqlite3.connect(db)
    raw.row_factory = sqlite3.Row
    stored = {row["span_id"]: row for row in raw.execute("select * from spans where run_id = ?", (r.run_id,))}
    rows = {s.span_id: s for s in trace_read.spans(Store(db), r.run_id, limit=None)}
    assert set(stored) == set(rows) and len(rows) > 20
    submits = 0
    for sid, row in rows.items():
        attrs, text = row.attrs(), json.loads(stored[sid]["attributes_json"])
        for key, column, _ in COLUMN_ATTRIBUTES:
            assert key not in text  # once, in the column
            value = getattr(row, column)
            assert attrs.get(key) == value  # and read back as the attribute it was
        assert {k: v for k, v in attrs.items() if k in text} == text
        if row.name == sc.SPAN_SUBMIT:
            submits += 1
            assert attrs[sc.AGENT_ID] == row.agent_id and attrs[sc.ROUND] == row.round >= 1
            assert attrs[sc.VERDICT] in (sc.VERDICT_ACCEPTED, sc.VERDICT_REJECTED) and attrs[sc.VERDICT_RULE]
    assert submits > 0
    # the DataFrame API hands out every attribute in attributes_json, the integer ones as integers
    df = frames.spans(db, r.run_id, operation=sc.SPAN_SUBMIT)
    assert len(df) == submits
    for sid, text in zip(df.span_id, df.attributes_json, strict=True):
        assert json.loads(text) == rows[sid].attrs()
        assert type(json.loads(text)[sc.ROUND]) is int


def test_rows_written_with_every_attribute_in_the_json_read_the_same(tmp_path) -> None:
    """Stores written before the columns held their attributes alone: the JSON has them too; nothing changes."""
    store = Store(str(tmp_path / "old.db"))
    attrs = {sc.AGENT_ID: "b1", sc.ROUND: 3, sc.VERDICT: "accepted", "agora.price": 5}
    old = {
        "run_id": "r",
        "span_id": "00000000000000aa",
        "trace_id": "0" * 31 + "1",
        "parent_id": None,
        "name": sc.SPAN_SUBMIT,
        "operation": sc.SPAN_SUBMIT,
        "kind": "INTERNAL",
        "agent_id": "b1",
        "round": 3,
        "verdict": "accepted",
        "status": "UNSET",
        "start_ns": 1,
        "end_ns": 2,
        "duration_ns": 1,
        "attributes_json": json.dumps(attrs),
    }
    write_spans(store, "r", [old])
    (row,) = trace_read.spans(store, "r")
    assert row.attrs() == attrs and attributes_of(old) == attrs


def test_a_value_the_column_would_convert_stays_in_the_json(tmp_path) -> None:
    """A round given as text, an agent id given as a number: the JSON keeps the value as set."""
    tracer = TracerProvider().get_tracer("t")
    with tracer.start_as_current_span("odd", attributes={sc.ROUND: "7", sc.AGENT_ID: 5, sc.THREAD_ID: "t1"}) as sp:
        pass
    row = span_row(sp, "r")
    text = json.loads(row["attributes_json"])
    assert text[sc.ROUND] == "7" and text[sc.AGENT_ID] == 5 and sc.THREAD_ID not in text
    store = Store(str(tmp_path / "odd.db"))
    write_spans(store, "r", [row])
    (stored,) = trace_read.spans(store, "r")
    assert isinstance(stored, SpanRow)
    assert stored.attrs() == {sc.ROUND: "7", sc.AGENT_ID: 5, sc.THREAD_ID: "t1"}
