"""Spans made as rows (no SDK span) are the rows the SDK would have made, and reach OTLP as the same tree."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import pytest
from opentelemetry import trace
from otlp_receivers import HttpReceiver
from traces_helpers import tiny

from agents.base import Agent
from agents.observation import Observation
from protocols import semconv as sc
from sandbox import Session
from sandbox.tracing.rows import RowSpans
from traces import Store, trace_read
from traces.otel import setup_tracing


class _Broken(Agent):
    """A FAKE scripted agent whose turn raises every second round."""

    kind = "fake_broken"

    def decide(self, obs: Observation) -> Sequence[Any]:
        if obs.round % 2 == 0:
            raise RuntimeError(f"broken in round {obs.round}")
        return []


class _Nesting(Agent):
    """A FAKE scripted agent that starts a span of its own inside its turn."""

    kind = "fake_nesting"

    def decide(self, obs: Observation) -> Sequence[Any]:
        with trace.get_tracer("tests.fake").start_as_current_span("inner", attributes={"x": obs.round}):
            return []


class _Kind(str):
    """A str subclass: a value of another type than the plain str the quick row path takes."""


class _OddKind(Agent):
    """A FAKE scripted agent whose kind is a str subclass: its turn's row goes the general way."""

    kind = _Kind("fake_odd")

    def decide(self, obs: Observation) -> Sequence[Any]:
        return [{"type": "no_such_action"}] if obs.round % 3 == 0 else []


def _run(store: Store, sdk_only: bool, monkeypatch: pytest.MonkeyPatch) -> str:
    if sdk_only:  # every span through the SDK, as before spans were made as rows
        monkeypatch.setattr(RowSpans, "current", lambda self: False)
    s = Session(tiny(rounds=10), store=store)
    s.spawn(_Broken, n=1, role="buyer", budget=10, value=1, service="svc")
    s.spawn(_Nesting, n=1, role="buyer", budget=10, value=1, service="svc", wake="on_event")
    s.spawn(_OddKind, n=1, role="buyer", budget=10, value=1, service="svc")
    s.run()
    monkeypatch.undo()
    return s.run_id


def _shape(store: Store, run_id: str) -> list[tuple[Any, ...]]:
    """Every span without its ids and times: its parent's name, columns, attributes, events, links."""
    rows = list(trace_read.spans(store, run_id, limit=None))
    by_id = {r.span_id: r for r in rows}
    out = []
    for r in rows:
        parent = by_id[r.parent_id].name if r.parent_id else None
        events = [
            (e["name"], {k: v for k, v in e["attributes"].items() if k != "exception.stacktrace"})
            for e in json.loads(r.events_json or "[]")
        ]
        stack_ok = all(
            "RuntimeError" in e["attributes"].get("exception.stacktrace", "RuntimeError")
            for e in json.loads(r.events_json or "[]")
        )
        links = [
            (by_id[lk["span_id"]].name, lk["attributes"]) if lk["span_id"] in by_id else ("?", lk["attributes"])
            for lk in json.loads(r.links_json or "[]")
        ]
        attrs = json.dumps(r.attrs(), sort_keys=True).replace(run_id, "RUN")
        cols = (r.name, r.operation, r.kind, r.agent_id, r.round, r.thread_id, r.action_type, r.verdict, r.rule)
        out.append((parent, *cols, r.status, r.status_message, attrs, events, links, stack_ok))
    return sorted(out, key=repr)


def test_rows_made_without_the_sdk_are_the_rows_the_sdk_makes(tmp_path, monkeypatch) -> None:
    a, b = Store(str(tmp_path / "a.db")), Store(str(tmp_path / "b.db"))
    direct, sdk = _run(a, False, monkeypatch), _run(b, True, monkeypatch)
    got, want = _shape(a, direct), _shape(b, sdk)
    assert got == want
    names = {g[1] for g in got}
    assert {sc.SPAN_SUBMIT, sc.SPAN_AGENT_DECIDE, sc.SPAN_SETTLE, "inner"} <= names
    assert any(g[1].startswith(sc.SPAN_AGENT_TURN) for g in got)  # waits
    assert any(g[-3] for g in got)  # a failed turn's exception event
    assert any(g[0] == sc.SPAN_AGENT_DECIDE and g[1] == "inner" for g in got)  # nested under the turn
    inner = [r for r in trace_read.spans(a, direct, limit=None) if r.name == "inner"]
    assert inner and all(r.agent_id and r.round for r in inner)  # inherited from the turn
    for run_id, store in ((direct, a), (sdk, b)):
        c = trace_read.span_counts(store, run_id)
        assert c.started == c.ended == c.stored == c.in_store == len(got) and c.ok


def test_rows_made_without_the_sdk_reach_a_collector_as_spans(tmp_path) -> None:
    receiver = HttpReceiver().start()
    try:
        store = Store(str(tmp_path / "o.db"))
        s = Session(tiny(rounds=10), store=store, tracing=setup_tracing(store, otlp_endpoint=receiver.url))
        s.spawn(_Broken, n=1, role="buyer", budget=10, value=1, service="svc")
        s.run()
    finally:
        receiver.stop()
    stored = {r.span_id: r for r in trace_read.spans(store, s.run_id, limit=None)}
    got = {sp["span_id"]: sp for sp in receiver.spans}
    assert set(got) == set(stored)
    for sid, row in stored.items():
        sp = got[sid]
        assert (sp["name"], sp["trace_id"], sp["parent_id"]) == (row.name, row.trace_id, row.parent_id)
        assert sp["attrs"] == {k: v for k, v in row.attrs().items()}
    settle = next(sp for sp in receiver.spans if sp["name"] == sc.SPAN_SETTLE)
    assert settle["attrs"][sc.TX_ID] >= 1


def test_attributes_json_is_the_text_json_writes() -> None:
    """The fast encoder (orjson where it is installed) writes exactly json's text, or leaves the row to json."""
    from random import Random

    from traces.spans import _json, encode_attributes

    rng = Random(7)
    samples: list[dict[str, Any]] = [
        {"a": 1.5, "b": 1e16},
        {"a": (1, 2.5)},
        {"a": 2**70},
        {"a": "caf\u00e9", "b": "\x7f", "c": "\ud800"},
        {"a": True, "b": None, "c": -(2**63)},
    ]
    for _ in range(3000):
        text = "".join(
            chr(rng.choice([rng.randrange(0, 160), rng.randrange(0, 0x3000)])) for _ in range(rng.randrange(9))
        )
        samples.append({text: text, "n": rng.randrange(-(2**63), 2**63), "b": rng.random() < 0.5, "z": None})
    for attrs in samples:
        assert encode_attributes(attrs) == _json(attrs)


class _Looking(Agent):
    """A FAKE scripted agent that keeps the span current during its turns."""

    kind = "fake_looking"
    seen: list[Any] = []

    def decide(self, obs: Observation) -> Sequence[Any]:
        _Looking.seen.append(trace.get_current_span())
        return []


def test_a_scripted_turns_current_span_is_the_one_the_api_makes(tmp_path) -> None:
    """The turn's current span is made by hand (no SpanContext.__new__ nor NonRecordingSpan.__init__): it
    must be what ``NonRecordingSpan(SpanContext(trace, span, False, SAMPLED))`` makes, with the row's ids."""
    from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

    _Looking.seen = []
    store = Store(str(tmp_path / "l.db"))
    s = Session(tiny(rounds=3), store=store)
    s.spawn(_Looking, n=1, role="buyer", budget=10, value=1, service="svc")
    s.run()
    turns = {r.span_id: r for r in trace_read.spans(store, s.run_id, operation=sc.SPAN_AGENT_DECIDE, limit=None)}
    assert len(_Looking.seen) == 3
    for span in _Looking.seen:
        ctx = span.get_span_context()
        row = turns[f"{ctx.span_id:016x}"]
        want = NonRecordingSpan(SpanContext(int(row.trace_id, 16), ctx.span_id, False, TraceFlags(TraceFlags.SAMPLED)))
        assert type(span) is NonRecordingSpan and not span.is_recording()
        assert (
            ctx == want.get_span_context() and ctx.is_valid and ctx.trace_state == want.get_span_context().trace_state
        )
        assert row.agent_id.startswith("buyer")
