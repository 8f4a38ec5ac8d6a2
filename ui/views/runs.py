"""Runs: every run with scenario, seed, status, rounds, agents, volume, efficiency and alerts."""

from __future__ import annotations

import streamlit as st

from ui import data, widgets

st.title("Runs")
st.caption(f"store: {data.db_url()}")  # the operator's own setting, not agent text
widgets.operator()
widgets.pick_run()
live = bool((data.runs()["status"] == "running").any()) if not data.runs().empty else False


@st.fragment(run_every=3.0 if live else None)
def table() -> None:
    """The runs table, refreshed every 3 s while a run is going on."""
    runs = data.runs()
    if runs.empty:
        return
    st.caption("Click a run to open its Market page.")
    event = st.dataframe(
        runs,
        hide_index=True,
        on_select="rerun",
        selection_mode="single-row",
        key="runs.table",
        column_config={
            "volume": st.column_config.NumberColumn(format="%.2f"),
            "efficiency": st.column_config.NumberColumn(format="percent"),
        },
    )
    opened = widgets.clicked(event, list(runs["run"]), "runs.clicked")
    if opened is not None:
        st.switch_page("views/market.py", query_params={"run": opened})


table()

st.subheader("Start a demo run")
with st.form("demo"):
    rounds = st.number_input("Rounds", min_value=1, max_value=10_000, value=40)
    seed = st.number_input("Seed", min_value=0, value=7)
    if st.form_submit_button("Start demo run"):
        if widgets.attempt("*", "start_demo", {"rounds": int(rounds), "seed": int(seed)}):
            pid, log = data.start_demo(int(rounds), int(seed), widgets.author())
            st.success(f"Started the services demo (process {pid}, output in {log}); it appears above within seconds.")

st.subheader("Attempted writes")
st.caption("Every write asked of this app, allowed or refused: who, from which address, when, and what happened.")
attempts = data.write_attempts()
if attempts.empty:
    st.text("No write has been attempted yet.")
else:
    st.dataframe(attempts, hide_index=True)
