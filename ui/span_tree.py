"""A trace shown as Phoenix shows one: one row per span indented by depth, a waterfall on a shared
time axis, and the chosen span's attributes, or for a model call its messages by role.

Agent-written text (prompts, replies, tool arguments, attributes) is only ever shown through
``st.text`` and ``st.code``, never Markdown or HTML.
"""

from __future__ import annotations

import json
from typing import Any

import pandas as pd
import streamlit as st

from ui import charts, data, keys

ROLE_LABEL = {"system": "SYSTEM", "user": "USER", "assistant": "ASSISTANT", "tool": "TOOL"}


def show(run_id: str, spans: pd.DataFrame, key: str) -> dict[str, Any] | None:
    """The trace's waterfall and span table; a click on a row opens that span below. Returns it."""
    st.plotly_chart(charts.waterfall(spans), key=f"{key}.waterfall")
    table = spans.assign(
        span=[f"{'    ' * int(d)}{n}" for d, n in zip(spans["depth"], spans["name"], strict=True)],
        start_ms=(spans["start_ns"] - spans["start_ns"].min()) / 1e6,
    )[["span", "agent", "round", "duration_ms", "start_ms", "verdict", "model", "input_tokens", "output_tokens"]]
    st.caption("Click a row to open its span (a chat span shows the model call's messages).")
    event = st.dataframe(
        table,
        hide_index=True,
        on_select="rerun",
        selection_mode="single-row",
        key=f"{key}.table",
        column_config={
            "span": st.column_config.TextColumn(width="large"),
            "duration_ms": st.column_config.NumberColumn("duration ms", format="%.3f"),
            "start_ms": st.column_config.NumberColumn("start ms", format="%.3f"),
        },
    )
    rows = event.selection.rows if event is not None else []
    ids = list(spans["span_id"])
    if rows:
        st.session_state[keys.SPAN] = ids[rows[0]]
    wanted = st.session_state.get(keys.SPAN) or st.query_params.get(keys.QUERY_SPAN)
    if wanted is None or wanted not in ids:  # (None is never a span id)
        return None
    st.query_params[keys.QUERY_SPAN] = wanted
    span = spans[spans["span_id"] == wanted].iloc[0].to_dict()
    details(run_id, span)
    return span


def details(run_id: str, span: dict[str, Any]) -> None:
    """One span: its facts and attributes; for a model call its tokens, latency, cost and messages."""
    st.subheader(f"Span {span['name']}")
    facts = [f"{k}: {span[k]}" for k in ("agent", "round", "verdict", "rule", "status") if _set(span.get(k))]
    st.text(f"span {span['span_id']} · {span['duration_ms']:.3f} ms" + (" · " + " · ".join(facts) if facts else ""))
    record = data.call_record(run_id, span) if span.get("operation") in ("chat", "text_completion") else None
    if record is not None:
        c = st.columns(5)
        c[0].metric("Input tokens", record["prompt_tokens"])
        c[1].metric("Output tokens", record["completion_tokens"])
        c[2].metric("Latency", f"{record['latency_ms']:.0f} ms")
        c[3].metric("Cost", f"{record['cost_usd']:.4f} USD")
        c[4].metric("Model", str(record["model"]))
        if record.get("fault") or record.get("error"):
            st.text(f"fault: {record.get('fault')} · {record.get('error') or ''}")
        conversation(record)
    with st.expander("Attributes", expanded=record is None):
        st.code(json.dumps(json.loads(span.get("attributes") or "{}"), indent=2, sort_keys=True), language="json")


def conversation(record: dict[str, Any]) -> None:
    """A model call's messages in order, each under its role; tool calls as formatted JSON."""
    msgs = data.messages(record)
    for i, m in enumerate(msgs):
        reply = i == len(msgs) - 1 and record.get("response_json") is not None
        label = ROLE_LABEL.get(m["role"], m["role"].upper()) + (" (the model's reply)" if reply else "")
        st.text(label + (f" · answers tool call {m['tool_call_id']}" if m.get("tool_call_id") else ""))
        if m["content"]:
            st.code(m["content"], language=None, wrap_lines=True)
        for t in m["tool_calls"]:
            st.text(f"tool call {t['name']} ({t['id']})")
            st.code(json.dumps(t["arguments"], indent=2, sort_keys=True), language="json", wrap_lines=True)


def _set(v: Any) -> bool:
    return v is not None and not (isinstance(v, float) and pd.isna(v))
