"""Transactions: a filterable, paginated audit table; one deal's negotiation thread and trace."""

from __future__ import annotations

import math

import streamlit as st

from ui import charts, data, keys, widgets

st.title("Transactions")
info = widgets.pick_run()
if info is None:
    st.stop()
run_id = info["id"]
widgets.run_header(info)

ANY = "(any)"
c = st.columns(6)
status = c[0].selectbox("Status", [ANY, "settled", "refunded"])
service = c[1].selectbox("Service", [ANY, *data.services(run_id)])
agent = c[2].text_input("Agent (buyer or seller)")
rounds_done = max(int(info["rounds_done"]), 1)
round_min, round_max = c[3].slider("Settled in rounds", 0, rounds_done, (0, rounds_done))
price_min = c[4].number_input("Min price", min_value=0.0, value=0.0)
price_max = c[5].number_input("Max price (0: any)", min_value=0.0, value=0.0)

size = st.session_state.setdefault(keys.TX_PAGE_SIZE, 50)
filters = {
    "status": None if status == ANY else status,
    "service": None if service == ANY else service,
    "agent": agent.strip() or None,
    "round_min": round_min or None,
    "round_max": None if round_max == rounds_done else round_max,
    "price_min": price_min or None,
    "price_max": price_max or None,
}
_, total = data.transactions_page(run_id, **filters, limit=1)
pages = max(1, math.ceil(total / size))
if st.session_state.get(keys.TX_PAGE, 1) > pages:  # a narrower filter has fewer pages
    st.session_state[keys.TX_PAGE] = pages
p = st.columns([1, 1, 4])
page = p[0].number_input(f"Page (of {pages})", min_value=1, max_value=pages, value=1, key=keys.TX_PAGE)
p[1].selectbox("Rows per page", [10, 25, 50, 100, 200], key=keys.TX_PAGE_SIZE)
df, total = data.transactions_page(run_id, **filters, offset=(int(page) - 1) * size, limit=size)
st.caption(f"{total} transactions match; showing {len(df)} from #{(int(page) - 1) * size + 1}")
st.dataframe(df, hide_index=True, column_config={"price": st.column_config.NumberColumn(format="%.2f")})

if df.empty:
    st.stop()
ids = [int(x) for x in df["tx"]]
wanted = st.query_params.get(keys.QUERY_TX)
default = ids.index(int(wanted)) + 1 if wanted and wanted.isdigit() and int(wanted) in ids else 0
if st.session_state.get(keys.TX_OPEN) not in (None, *ids):  # the open one is not on this page
    del st.session_state[keys.TX_OPEN]
opened = st.selectbox(
    "Open a transaction",
    [None, *ids],
    index=default,
    key=keys.TX_OPEN,
    format_func=lambda t: "(choose)" if t is None else f"#{t}",
)
if opened is None:
    st.stop()
st.query_params[keys.QUERY_TX] = str(opened)
tx = data.transaction(run_id, int(opened))
assert tx is not None
st.subheader(f"Transaction #{opened}")
st.text(f"{tx['buyer']} bought {tx['service']} from {tx['seller']}")  # service names are agent-written: plain text
st.dataframe([tx], hide_index=True)
st.subheader("Negotiation thread")
st.caption("What each side submitted, with the protocol's verdict. Payloads are shown as plain text.")
thread = data.thread(run_id, tx["thread"])
st.dataframe(thread, hide_index=True)
st.subheader("Trace")
spans = data.trace_for(run_id, tx)
if spans is None:
    st.info("The span read API (traces.trace_read) is not installed, so the trace cannot be shown.")
elif spans.empty:
    st.info("No spans were recorded for this transaction (tracing was off for this run).")
else:
    view = st.radio("Show the trace as", ["waterfall", "tree"], horizontal=True)
    if view == "waterfall":
        st.plotly_chart(charts.waterfall(spans), key="waterfall")
    tree = spans.assign(name=[("  " * d) + n for d, n in zip(spans["depth"], spans["name"], strict=True)])
    st.dataframe(tree.drop(columns=["depth", "start_ns", "end_ns"]), hide_index=True)
calls = data.llm_calls(run_id, [tx["buyer"], tx["seller"]], sorted(set(thread["round"])) if not thread.empty else [])
st.subheader("LLM calls behind it")
if calls.empty:
    st.text("No model calls by the two parties in the rounds of this negotiation (scripted agents).")
else:
    widgets.llm_calls(calls)
