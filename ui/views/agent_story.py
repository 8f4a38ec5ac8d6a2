"""Agents: one agent's story (balance, violations, actions, deals, and its LLM calls where traced)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from ui import charts, data, keys, widgets

st.title("Agents")
info = widgets.pick_run()
if info is None:
    st.stop()
run_id = info["id"]
widgets.run_header(info)
agents = data.agents(run_id)
if agents.empty:
    st.stop()
overview = data.agents_overview(run_id)
ids = list(overview["agent"])  # most suspicious first: alerts, a tripped breaker, then violations

st.subheader("All agents")
st.caption("Sorted most suspicious first; click a column header to sort, a row to open the agent.")
event = st.dataframe(
    overview.drop(columns=["suspicion"]),
    hide_index=True,
    on_select="rerun",
    selection_mode="single-row",
    key="agents.table",
    column_config={
        "pnl": st.column_config.NumberColumn("P&L", format="%.2f"),
        "balance": st.column_config.NumberColumn(format="%.2f"),
        "cost_usd": st.column_config.NumberColumn("cost USD", format="%.4f"),
    },
)
picked = widgets.clicked(event, ids, "agents.clicked")
if picked is not None:
    st.session_state[keys.AGENT] = picked
widgets.from_query(keys.QUERY_AGENT, keys.AGENT, ids)
if st.session_state.get(keys.AGENT) not in ids:
    st.session_state[keys.AGENT] = ids[0]
agent_id = st.selectbox("Agent", sorted(ids), key=keys.AGENT)
widgets.to_query(keys.QUERY_AGENT, keys.AGENT, agent_id)
st.subheader(f"Agent {agent_id}")
me = agents[agents["agent"] == agent_id].iloc[0]

bal = data.balance(run_id, agent_id)
viol = data.violations(run_id, agent_id)
deals, n_deals = data.transactions_page(run_id, agent=agent_id, limit=200)
c = st.columns(5)
c[0].metric("Role", str(me["role"]))
c[1].metric("Type", str(me["kind"]))
c[2].metric("Balance", f"{bal['balance'].iloc[-1]:.2f}" if not bal.empty else "-")
c[3].metric("Deals", n_deals)
c[4].metric("Violations", int(viol["count"].sum()) if not viol.empty else 0)
st.text("Private information and parameters (as recorded):")
st.code(f"private: {me['private']}\nparams:  {me['params']}", language=None)

extra = data.agent_extras(run_id, agent_id)
llm = extra["llm"]
c = st.columns(5)
c[0].metric(
    "Reputation",
    "-" if extra["reputation"] is None else f"{extra['reputation']:.3f}",
    help="recomputed from the outcome reports of its sales under the policy in force",
)
c[1].metric("Breaker", str(extra["breaker"]))
c[2].metric("Alerts involving it", extra["alerts"])
c[3].metric("LLM calls", llm["calls"])
c[4].metric(
    "Tokens in / out",
    f"{llm['input_tokens']} / {llm['output_tokens']}",
    help=f"cost {llm['cost_usd']:.4f} USD, {llm['faults']} faults",
)

if not bal.empty:
    last = int(info["rounds_done"])
    if int(bal["round"].iloc[-1]) < last:  # carry the balance to the latest round
        bal = pd.concat([bal, pd.DataFrame([{"round": last, "change": 0.0, "balance": bal["balance"].iloc[-1]}])])
    st.plotly_chart(charts.balance(bal), key="balance")
st.subheader("Violations by rule")
if viol.empty:
    st.text("No rejected actions.")
else:
    st.dataframe(viol, hide_index=True)
st.subheader("Deals")
if deals.empty:
    st.text("No deals.")
else:
    st.caption("Click a deal to open it on the Transactions page (its negotiation, trace and model calls).")
    event = st.dataframe(deals, hide_index=True, on_select="rerun", selection_mode="single-row", key="agent.deals")
    tx_open = widgets.clicked(event, [int(t) for t in deals["tx"]], "agent.deals.clicked")
    if tx_open is not None:
        st.switch_page("views/transactions.py", query_params={"run": run_id, "tx": str(tx_open)})
st.subheader("Actions")
page = st.number_input("Actions page", min_value=1, value=1)
st.dataframe(data.actions(run_id, agent=agent_id, offset=(int(page) - 1) * 100, limit=100), hide_index=True)
if not extra["breaker_events"].empty:
    st.subheader("Breaker events")
    st.dataframe(extra["breaker_events"], hide_index=True)
if not extra["interventions"].empty:
    st.subheader("Interventions")
    st.dataframe(extra["interventions"], hide_index=True)
st.subheader("LLM calls")
if llm["calls"] == 0:
    st.text("This agent made no LLM calls (a scripted agent).")
else:
    cpage = st.number_input("Calls page", min_value=1, value=1)
    calls = data.llm_calls(run_id, [agent_id], offset=(int(cpage) - 1) * 100)
    widgets.llm_calls(calls, key=f"agent.{agent_id}.calls")
    if not calls.empty:
        first = int(calls["round"].iloc[0])
        widgets.link(
            "trace_view", f"trace of {agent_id}'s turn in round {first}", run=run_id, agent=agent_id, round=first
        )
