"""Trace: the spans of a deal, of one agent's turn in a round, or of a whole round, as a tree on one
time axis; a click on a span opens its attributes or, for a model call, its messages by role."""

from __future__ import annotations

import streamlit as st

from ui import data, keys, span_tree, widgets

SCOPES = ("a deal", "an agent's turn", "a round")

st.title("Trace")
info = widgets.pick_run()
if info is None:
    st.stop()
run_id = info["id"]
widgets.run_header(info)
done = max(int(info["rounds_done"]), 1)
agents = list(data.agents(run_id)["agent"])

# The URL says what to show: ?tx=7, ?agent=buyer-001&round=4, or ?round=4.
q = st.query_params
url_scope = "a deal" if q.get(keys.QUERY_TX) else "an agent's turn" if q.get(keys.QUERY_AGENT) else None
url_scope = url_scope or ("a round" if q.get(keys.QUERY_ROUND) else None)


def _where() -> str:
    return "|".join(st.query_params.get(k, "") for k in (keys.QUERY_TX, keys.QUERY_AGENT, keys.QUERY_ROUND))


if url_scope and _where() != st.session_state.get("trace.from_url"):  # a link not yet followed
    st.session_state[keys.TRACE_SCOPE] = url_scope
    if q.get(keys.QUERY_TX, "").isdigit():
        st.session_state["trace.tx"] = int(q[keys.QUERY_TX])
    if q.get(keys.QUERY_AGENT) in agents:
        st.session_state["trace.agent"] = q[keys.QUERY_AGENT]
    if q.get(keys.QUERY_ROUND, "").isdigit():
        st.session_state["trace.round"] = min(max(int(q[keys.QUERY_ROUND]), 1), done)

c = st.columns([2, 2, 2, 2])
scope = c[0].radio("Show the trace of", SCOPES, key=keys.TRACE_SCOPE)
if scope == "a deal":
    st.session_state.setdefault("trace.tx", 1)
    tx = c[1].number_input("Deal (transaction #)", min_value=1, key="trace.tx")
    st.query_params.update({keys.QUERY_TX: str(int(tx))})
    for query_key in (keys.QUERY_AGENT, keys.QUERY_ROUND):
        st.query_params.pop(query_key, None)
    spans = data.deal_trace(run_id, int(tx))
    what = f"deal #{int(tx)}"
else:
    st.session_state["trace.round"] = min(st.session_state.get("trace.round", 1), done)
    k = c[2].number_input("Round", min_value=1, max_value=done, key="trace.round")
    st.query_params.pop(keys.QUERY_TX, None)
    if scope == "an agent's turn":
        if st.session_state.get("trace.agent") not in agents:
            st.session_state["trace.agent"] = agents[0] if agents else None
        agent = c[1].selectbox("Agent", agents, key="trace.agent")
        st.query_params.update({keys.QUERY_AGENT: str(agent), keys.QUERY_ROUND: str(int(k))})
        spans = data.turn_trace(run_id, str(agent), int(k))
        what = f"{agent}'s turn in round {int(k)}"
    else:
        st.query_params.pop(keys.QUERY_AGENT, None)
        st.query_params.update({keys.QUERY_ROUND: str(int(k))})
        spans = data.round_trace(run_id, int(k))
        what = f"round {int(k)}"
st.session_state["trace.from_url"] = _where()
if spans.empty:
    st.info(f"No spans recorded for {what} (tracing was off, or there is no such record in this run).")
    st.stop()
total_ms = (spans["end_ns"].max() - spans["start_ns"].min()) / 1e6
st.caption(f"{what}: {len(spans)} spans over {total_ms:.3f} ms")
span_tree.show(run_id, spans, key=f"trace.{scope}")
