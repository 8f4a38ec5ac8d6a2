"""Traces scoped to what the auditor chose (a deal, an agent's turn, a round) and one model call's record.

A scope leaves out the spans above it (the run-wide ``session.run`` span would otherwise set
the time scale), so the rows and the time axis are the scope's own. A chat span is joined to
its ``llm_calls`` row by the primary key it carries (round, agent, call sequence).
"""

from __future__ import annotations

import json
from typing import Any

import pandas as pd
import streamlit as st
from sqlmodel import Session

from protocols import semconv as sc
from traces import trace_read
from traces.llm_calls import LLMCallRow
from traces.spans import attributes_json_of
from ui.data.core import cached_store, db_url

ROUND_SPAN_LIMIT = 3000  # spans shown for a whole round; a round of a 1M-span run holds about 1,000
COLUMNS = [
    "depth",
    "name",
    "operation",
    "agent",
    "round",
    "verdict",
    "rule",
    "model",
    "input_tokens",
    "output_tokens",
    "status",
    "duration_ms",
    "start_ns",
    "end_ns",
    "span_id",
    "parent_id",
    "attributes",
]


def _frame(nodes: list[trace_read.TraceNode], drop_above: int = 0) -> pd.DataFrame:
    rows = []
    for node in nodes:
        if node.depth < drop_above:
            continue
        sp = node.span
        rows.append(
            {
                "depth": node.depth - drop_above,
                "name": sp.name,
                "operation": sp.operation,
                "agent": sp.agent_id,
                "round": sp.round,
                "verdict": sp.verdict,
                "rule": sp.rule,
                "model": sp.model,
                "input_tokens": sp.input_tokens,
                "output_tokens": sp.output_tokens,
                "status": sp.status,
                "duration_ms": sp.duration_ns / 1e6,
                "start_ns": sp.start_ns,
                "end_ns": sp.end_ns,
                "span_id": sp.span_id,
                "parent_id": sp.parent_id,
                "attributes": attributes_json_of(sp),  # with the attributes kept in columns
            }
        )
    return pd.DataFrame(rows, columns=COLUMNS)


@st.cache_data(ttl=60, show_spinner=False)
def _deal_trace(url: str, run_id: str, tx_id: int) -> pd.DataFrame:
    nodes = trace_read.transaction_trace(cached_store(url), run_id, tx_id)
    # the session.run root spans the whole run: leave it out so the deal's own spans set the scale
    top = 1 if nodes and nodes[0].span.operation == sc.SPAN_SESSION and len(nodes) > 1 else 0
    return _frame(nodes, drop_above=top)


def deal_trace(run_id: str, tx_id: int) -> pd.DataFrame:
    """The spans behind one deal depth-first (rounds it spanned at depth 0), without the run's root span."""
    return _deal_trace(db_url(), run_id, int(tx_id))


@st.cache_data(ttl=60, show_spinner=False)
def _turn_trace(url: str, run_id: str, agent: str, round_: int) -> pd.DataFrame:
    rows = trace_read.spans(cached_store(url), run_id, agent=agent, round_=round_, limit=ROUND_SPAN_LIMIT)
    return _frame(trace_read.tree(rows))


def turn_trace(run_id: str, agent: str, round_: int) -> pd.DataFrame:
    """One agent's spans in one round: its turn, the model calls inside it, its submissions."""
    return _turn_trace(db_url(), run_id, agent, int(round_))


@st.cache_data(ttl=60, show_spinner=False)
def _round_trace(url: str, run_id: str, round_: int) -> pd.DataFrame:
    rows = trace_read.spans(cached_store(url), run_id, round_=round_, limit=ROUND_SPAN_LIMIT)
    return _frame(trace_read.tree(rows))


def round_trace(run_id: str, round_: int) -> pd.DataFrame:
    """Every span of one round (at most ``ROUND_SPAN_LIMIT``), the round span at the top."""
    return _round_trace(db_url(), run_id, int(round_))


@st.cache_data(ttl=60, show_spinner=False)
def _call_record(url: str, run_id: str, round_: int, agent: str, seq: int) -> dict[str, Any] | None:
    with Session(cached_store(url).engine) as s:
        row = s.get(LLMCallRow, (run_id, round_, agent, seq))
        return row.model_dump() if row else None


def call_record(run_id: str, span: dict[str, Any]) -> dict[str, Any] | None:
    """The ``llm_calls`` row behind a chat span (None for other spans or when it was not recorded)."""
    attrs = json.loads(span.get("attributes") or "{}")
    seq, agent, round_ = attrs.get(sc.LLM_CALL_SEQ), span.get("agent"), span.get("round")
    if seq is None or agent is None or round_ is None or pd.isna(round_):
        return None
    return _call_record(db_url(), run_id, int(round_), str(agent), int(seq))


def messages(record: dict[str, Any]) -> list[dict[str, Any]]:
    """A call's conversation as the model saw it and answered: the prompt's messages, then the reply.

    Each item has ``role``, ``content`` (text or None) and ``tool_calls`` (name and arguments
    parsed from JSON where they are JSON). Text stays text: nothing here renders it.
    """
    out = []
    try:
        prompt = json.loads(record.get("messages_json") or "[]")
    except json.JSONDecodeError:
        prompt = [{"role": "user", "content": record.get("messages_json")}]
    reply = None
    if record.get("response_json"):
        try:
            reply = (json.loads(record["response_json"]).get("choices") or [{}])[0].get("message")
        except (json.JSONDecodeError, AttributeError):
            reply = {"role": "assistant", "content": record["response_json"]}
    for m in [*(prompt if isinstance(prompt, list) else []), *([reply] if reply else [])]:
        if not isinstance(m, dict):
            continue
        content = m.get("content")
        if isinstance(content, list):  # content parts: keep the text ones
            content = "\n".join(str(p.get("text", p)) if isinstance(p, dict) else str(p) for p in content)
        out.append(
            {
                "role": str(m.get("role") or "?"),
                "content": None if content is None else str(content),
                "tool_calls": [_tool_call(t) for t in m.get("tool_calls") or []],
                "tool_call_id": m.get("tool_call_id"),
            }
        )
    return out


def _tool_call(t: Any) -> dict[str, Any]:
    fn = (t or {}).get("function") or {}
    args = fn.get("arguments")
    try:
        args = json.loads(args) if isinstance(args, str) else args
    except json.JSONDecodeError:
        pass  # the model wrote arguments that are not JSON: show them as it wrote them
    return {"id": (t or {}).get("id"), "name": fn.get("name"), "arguments": args}
