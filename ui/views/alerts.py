"""Alerts: the review queue of alert cases, grouped, filtered and paged, with bulk decisions.

A case gathers every hit of one finding (kind, agents, service). Filters, groups and pages are
computed in the store; only the open case's evidence is loaded. Decisions are control rows
(one ``review_alert`` per case, one reason for all) the running session applies next round.
"""

from __future__ import annotations

import dataclasses
import json
import math
from typing import Any

import streamlit as st

from traces.alert_queue import CaseFilter
from ui import data, keys, widgets
from ui.data import queue as dq

DECISIONS = ("confirm", "dismiss", "warn", "fine", "throttle", "suspend", "ban")
STATUSES = ("open", "confirmed", "dismissed")
PAGE_SIZE = 50
ANY = "(any)"

st.title("Alerts")
widgets.operator()
info = widgets.pick_run()
if info is None:
    st.stop()
run_id = info["id"]
widgets.run_header(info)
facets = dq.facets(run_id)
if facets["total"] == 0:
    st.info("No alert has been raised in this run.")
    st.stop()
c = st.columns(4)
c[0].metric("Open (waiting for review)", facets["statuses"].get("open", 0))
c[1].metric("Confirmed", facets["statuses"].get("confirmed", 0))
c[2].metric("Dismissed", facets["statuses"].get("dismissed", 0))
c[3].metric("Handled by policy", facets["auto"])

# --- filters ------------------------------------------------------------------------------
f = st.columns(5)
kinds = f[0].multiselect("Kind", facets["kinds"], key=keys.ALERT_KINDS)
severities = f[1].multiselect("Severity", facets["severities"], key=keys.ALERT_SEVERITIES)
if keys.ALERT_STATUSES not in st.session_state:
    st.session_state[keys.ALERT_STATUSES] = ["open"]
statuses = f[2].multiselect("Status", STATUSES, key=keys.ALERT_STATUSES)
if st.session_state.get(keys.ALERT_AGENT) not in [ANY, *facets["agents"]]:
    st.session_state.pop(keys.ALERT_AGENT, None)
agent = f[3].selectbox("Agent", [ANY, *facets["agents"]], key=keys.ALERT_AGENT)
lo, hi = facets["rounds"]
rounds = (lo, hi)
if hi > lo:
    rounds = f[4].slider("Rounds (cases with a hit in)", lo, hi, (lo, hi), key=keys.ALERT_ROUNDS)
flt = CaseFilter(
    kinds=tuple(kinds),
    severities=tuple(severities),
    statuses=tuple(statuses),
    agent=None if agent == ANY else agent,
    rounds=None if rounds == (lo, hi) else (int(rounds[0]), int(rounds[1])),
)

# --- groups -------------------------------------------------------------------------------
st.subheader("Cases by kind and agents")
groups = dq.groups(run_id, flt)
st.dataframe(groups.drop(columns=["agents_json"]), hide_index=True)
labels = {f"{g.kind} · {g.agents}": (g.kind, g.agents_json) for g in groups.itertuples()}
if st.session_state.get(keys.ALERT_GROUP) not in [ANY, *labels]:
    st.session_state.pop(keys.ALERT_GROUP, None)
group = st.selectbox("Group", [ANY, *labels], key=keys.ALERT_GROUP)
if group != ANY:
    flt = dataclasses.replace(flt, groups=(labels[group],))

# --- one page of cases ----------------------------------------------------------------------
total = (
    int(groups["cases"].sum())
    if group == ANY
    else int(groups[groups["agents_json"] == labels[group][1]]["cases"].sum())
)
pages = max(1, math.ceil(total / PAGE_SIZE))
if int(st.session_state.get(keys.ALERT_PAGE, 1)) > pages:
    st.session_state[keys.ALERT_PAGE] = 1
page_no = int(st.number_input(f"Page (of {pages})", 1, pages, key=keys.ALERT_PAGE))
cases, total = dq.page(run_id, flt, (page_no - 1) * PAGE_SIZE, PAGE_SIZE)
st.caption(f"{total} cases match the filters; page {page_no} of {pages}, {PAGE_SIZE} a page")
st.dataframe(cases, hide_index=True)
if cases.empty:
    st.stop()

# --- bulk decision --------------------------------------------------------------------------
st.subheader("Decision")
live = data.is_live(info)
if not live:
    st.warning(f"This run is {info['status']}: a decision written now would never be applied.")
on_page = list(cases["case"])
if any(x not in on_page for x in st.session_state.get(keys.ALERT_CHOSEN, [])):
    st.session_state[keys.ALERT_CHOSEN] = [x for x in st.session_state[keys.ALERT_CHOSEN] if x in on_page]
with st.form("review"):
    chosen = st.multiselect("Cases (on this page)", on_page, key=keys.ALERT_CHOSEN)
    every = st.checkbox(f"Every case the filters select ({total})", key=keys.ALERT_EVERY)
    decision = st.selectbox("Decision", DECISIONS, key=keys.REVIEW_DECISION)
    amount = st.number_input(
        "Fine amount (for 'fine'; 0: the policy's)", min_value=0.0, value=0.0, key=keys.REVIEW_AMOUNT
    )
    reason = st.text_input("Reason (recorded with each decision)", key=keys.REVIEW_REASON)
    go = st.form_submit_button("Record decision", disabled=not live)
if go:
    targets = dq.case_ids(run_id, flt) if every else list(chosen)
    request: dict[str, Any] = {"decision": decision, "cases": targets[:1000], "n_cases": len(targets), "reason": reason}
    if decision == "fine" and amount > 0:
        request["amount"] = amount
    empty = None if targets else "Choose at least one case (or every case the filters select)."
    if widgets.attempt(run_id, "review_alert", request, empty):  # recorded, allowed or refused
        ids = dq.submit_reviews(
            run_id, targets, decision, widgets.author(), reason, amount if decision == "fine" and amount > 0 else None
        )
        st.success(
            f"Decision '{decision}' on {len(targets)} cases written by {widgets.author()} "
            f"(control rows #{ids[0]}-#{ids[-1]}). The session applies them at its next round."
        )

# --- one case ------------------------------------------------------------------------------
if st.session_state.get(keys.ALERT_OPEN) not in on_page:  # another run, filter or page
    st.session_state.pop(keys.ALERT_OPEN, None)
alert_id = st.selectbox("Open a case", on_page, key=keys.ALERT_OPEN)
detail = dq.case(run_id, alert_id)
if detail is not None:
    a = detail["row"]
    st.subheader(f"Case {a.alert_id}: {a.kind} ({a.severity}), {a.count} hits, rounds {a.round}-{a.last_round}")
    st.text(a.summary)
    decided = f" · decided by {a.decided_by} in round {a.decided_round}: {a.decision}" if a.decided_by else ""
    st.text(f"agents: {', '.join(a.agents) or '(market)'} · status: {a.status}{decided}")
    if not detail["per_agent"].empty:
        st.text("Each named agent's own figures:")
        st.dataframe(detail["per_agent"])
    if not detail["history"].empty:
        st.text("Hits:")
        st.dataframe(detail["history"], hide_index=True)
    if detail["links"]:
        st.dataframe(
            {"record": [x for x, _ in detail["links"]], "open": [u for _, u in detail["links"]]},
            column_config={"open": st.column_config.LinkColumn("open", display_text="open")},
            hide_index=True,
        )
    st.text("Evidence (as the detector recorded it, latest hit):")
    st.code(json.dumps(detail["evidence"], indent=1, sort_keys=True), language="json")
    refs = [x for x, _ in detail["links"] if x.startswith(("tx:", "action:"))]
    if refs:
        acts, deals = data.alert_records(run_id, refs)
        if not acts.empty:
            st.text("Actions it points to (agent text shown as plain text):")
            st.dataframe(acts, hide_index=True)
        if not deals.empty:
            st.text("Transactions it points to:")
            st.dataframe(deals, hide_index=True)

pending = data.commands(run_id)
pending = pending[(pending["kind"] == "review_alert")] if not pending.empty else pending
if not pending.empty:
    st.subheader("Review decisions")
    st.dataframe(pending, hide_index=True)
