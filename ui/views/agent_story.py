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
ids = list(agents["agent"])
wanted = st.query_params.get(keys.QUERY_AGENT)
if keys.AGENT not in st.session_state and wanted in ids:
    st.session_state[keys.AGENT] = wanted
if st.session_state.get(keys.AGENT) not in ids:
    st.session_state[keys.AGENT] = ids[0]
agent_id = st.selectbox("Agent", ids, key=keys.AGENT)
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
    st.dataframe(deals, hide_index=True)
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
    widgets.llm_calls(data.llm_calls(run_id, [agent_id], offset=(int(cpage) - 1) * 100))
