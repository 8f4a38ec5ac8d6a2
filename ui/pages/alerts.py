"""Alerts: the review queue (evidence, the records it points to) and the reviewer's decisions."""

from __future__ import annotations

import streamlit as st

from ui import data, widgets

st.title("Alerts")
refusal = widgets.operator()
info = widgets.pick_run()
if info is None:
    st.stop()
run_id = info["id"]
widgets.run_header(info)
alerts = data.alerts(run_id)
if alerts is None:
    st.info("Waiting on the safety issue: the store has no alerts table yet.")
    st.stop()
