"""Transactions: a filterable, paginated audit table; one deal's negotiation thread and trace."""

from __future__ import annotations

import math
from typing import TypedDict

import streamlit as st

from ui import data, keys, span_tree, widgets


class TxFilters(TypedDict):
    """The filters of ``data.transactions_page`` this page sets."""

    status: str | None
    service: str | None
    agent: str | None
    round_min: int | None
    round_max: int | None
    price_min: float | None
    price_max: float | None


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
filters: TxFilters = {
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
st.caption("Click a row to open the deal: its negotiation, its trace and the model calls behind it.")
event = st.dataframe(
    df,
    hide_index=True,
    on_select="rerun",
    selection_mode="single-row",
    key=f"tx.table.{int(page)}.{size}",  # a new page starts with no row selected
    column_config={"price": st.column_config.NumberColumn(format="%.2f")},
)
ids = [int(x) for x in df["tx"]] if not df.empty else []
picked = widgets.clicked(event, ids, "tx.clicked")
if picked is not None:
    st.session_state[keys.TX_OPEN] = picked
wanted = st.query_params.get(keys.QUERY_TX, "")
if wanted.isdigit() and wanted != st.session_state.get("tx.from_url"):  # a link to a deal, on any page
    st.session_state["tx.from_url"] = wanted
    st.session_state[keys.TX_OPEN] = int(wanted)
opened = st.session_state.get(keys.TX_OPEN)
if opened is None:
    st.stop()
tx = data.transaction(run_id, int(opened))
if tx is None:
    st.info(f"Transaction #{opened} is not in this run.")
    st.stop()
widgets.to_query(keys.QUERY_TX, "tx", opened)
st.subheader(f"Transaction #{opened}")
st.text(f"{tx['buyer']} bought {tx['service']} from {tx['seller']}")  # service names are agent-written: plain text
st.dataframe([tx], hide_index=True)
links = st.columns(4)
with links[0]:
    widgets.link("agent_story", f"buyer {tx['buyer']}", run=run_id, agent=tx["buyer"])
with links[1]:
    widgets.link("agent_story", f"seller {tx['seller']}", run=run_id, agent=tx["seller"])
if tx["settled"] is not None and tx["settled"] == tx["settled"]:
    with links[2]:
        widgets.link("replay", f"round {int(tx['settled'])} in Replay", run=run_id, round=int(tx["settled"]))
with links[3]:
    widgets.link("trace_view", "trace on its own page", run=run_id, tx=opened)
st.subheader("Negotiation thread")
st.caption("What each side submitted, with the protocol's verdict. Payloads are shown as plain text.")
thread = data.thread(run_id, tx["thread"])
st.dataframe(thread, hide_index=True)
st.subheader("Trace")
spans = data.deal_trace(run_id, int(opened))
if spans.empty:
    st.info("No spans were recorded for this transaction (tracing was off for this run).")
else:
    st.caption(
        f"{len(spans)} spans: the rounds of this negotiation, the two parties' turns and model calls, "
        "their submissions and the settlement, on one time axis."
    )
    span_tree.show(run_id, spans, key=f"deal.{opened}")
calls = data.llm_calls(run_id, [tx["buyer"], tx["seller"]], sorted(set(thread["round"])) if not thread.empty else [])
st.subheader("LLM calls behind it")
if calls.empty:
    st.text("No model calls by the two parties in the rounds of this negotiation (scripted agents).")
else:
    widgets.llm_calls(calls, key=f"deal.{opened}.calls")
