"""Alerts: the review queue (evidence, the records it points to) and the reviewer's decisions."""

from __future__ import annotations

import json

import streamlit as st

from ui import data, keys, widgets

DECISIONS = ("confirm", "dismiss", "warn", "fine", "throttle", "suspend", "ban")

st.title("Alerts")
refusal = widgets.operator()
info = widgets.pick_run()
if info is None:
    st.stop()
run_id = info["id"]
widgets.run_header(info)
alerts = data.alerts(run_id)
if alerts.empty:
    st.info("No alert has been raised in this run.")
    st.stop()
c = st.columns(4)
c[0].metric("Open (waiting for review)", int((alerts["status"] == "open").sum()))
c[1].metric("Confirmed", int((alerts["status"] == "confirmed").sum()))
c[2].metric("Dismissed", int((alerts["status"] == "dismissed").sum()))
c[3].metric("Handled by policy", int(alerts["auto"].sum()))
show = st.radio("Show", ["review queue", "all alerts"], horizontal=True)
queue = alerts[alerts["status"] == "open"] if show == "review queue" else alerts
order = {"high": 0, "medium": 1, "low": 2}
queue = queue.sort_values(by=["severity", "round"], key=lambda s: s.map(order) if s.name == "severity" else s)
st.dataframe(queue.drop(columns=["evidence", "interventions"]), hide_index=True)
if queue.empty:
    st.stop()

if st.session_state.get(keys.ALERT_OPEN) not in set(queue["alert"]):  # another run or filter
    st.session_state.pop(keys.ALERT_OPEN, None)
alert_id = st.selectbox("Open an alert", list(queue["alert"]), key=keys.ALERT_OPEN)
a = alerts[alerts["alert"] == alert_id].iloc[0]
st.subheader(f"Alert {alert_id}: {a['kind']} ({a['severity']}), rounds {a['window']}")
st.text(str(a["summary"]))
decided = (
    f" · decided by {a['decided_by']} in round {int(a['decided_round'])}: {a['decision']}"
    if isinstance(a["decided_by"], str)
    else ""
)
st.text(f"agents: {a['agents']} · status: {a['status']}{decided}")
evidence = json.loads(a["evidence"])
st.text("Evidence (as the detector recorded it):")
st.code(json.dumps(evidence, indent=1, sort_keys=True), language="json")
refs = [r for v in evidence.values() if isinstance(v, list) for r in v if isinstance(r, str) and ":" in r]
if refs:
    acts, deals = data.alert_records(run_id, refs)
    if not acts.empty:
        st.text("Actions it points to (agent text shown as plain text):")
        st.dataframe(acts, hide_index=True)
    if not deals.empty:
        st.text("Transactions it points to:")
        st.dataframe(deals, hide_index=True)

st.subheader("Decision")
live = data.is_live(info)
if not live:
    st.warning(f"This run is {info['status']}: a decision written now would never be applied.")
with st.form("review"):
    decision = st.selectbox("Decision", DECISIONS, key=keys.REVIEW_DECISION)
    amount = st.number_input(
        "Fine amount (for 'fine'; 0: the policy's)", min_value=0.0, value=0.0, key=keys.REVIEW_AMOUNT
    )
    reason = st.text_input("Reason (recorded)", key=keys.REVIEW_REASON)
    go = st.form_submit_button("Record decision", disabled=not live)
if go:
    if refusal:
        st.error(refusal)
    else:
        cid = data.submit_review(
            run_id, alert_id, decision, widgets.author(), reason, amount if decision == "fine" and amount > 0 else None
        )
        st.success(
            f"Decision #{cid} on {alert_id} written by {widgets.author()}: {decision}. "
            "The session applies it at its next round."
        )
pending = data.commands(run_id)
pending = pending[(pending["kind"] == "review_alert")] if not pending.empty else pending
if not pending.empty:
    st.subheader("Review decisions")
    st.dataframe(pending, hide_index=True)
