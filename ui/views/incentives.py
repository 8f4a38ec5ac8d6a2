"""Incentives: the policy in force as a validated form, applied live at the next round; its history."""

from __future__ import annotations

import json
import pathlib

import streamlit as st

from ui import data, policy_form, widgets
from ui.data.effects import measured_effects

DOC = pathlib.Path(__file__).resolve().parents[2] / "docs" / "incentives.md"

st.title("Incentives")
st.caption("What each lever does to whom, the response expected and the one measured: docs/incentives.md.")
if DOC.exists():
    with st.expander("Read docs/incentives.md"):
        text = DOC.read_text()
        st.markdown("\n".join(line for line in text.splitlines() if not line.startswith("![")))  # no plot file here
widgets.operator()
info = widgets.pick_run()
if info is None:
    st.stop()
run_id = info["id"]
widgets.run_header(info)
versions = data.policy_versions(run_id)
current = data.policy_in_force(run_id)
version = int(versions.iloc[-1]["version"]) if not versions.empty else 0
live = data.is_live(info)
if not live:
    st.warning(f"This run is {info['status']}: a change written now would never be applied.")

st.subheader(f"Policy in force (version {version})")
effects = measured_effects(info["scenario"])
if effects:
    st.caption(f"Under a field: the measured effect in the last sweep of scenario '{info['scenario']}'.")
with st.form("policy"):
    entered = policy_form.fields(current, key=f"policy.{run_id}.{version}", notes=effects)
    reason = st.text_input("Reason for the change (recorded)", key=f"policy.reason.{run_id}")
    submitted = st.form_submit_button("Apply at the next round", disabled=not live)
if submitted:
    changes, errors = policy_form.validate(current, entered)
    if not errors and not changes:
        st.info("Nothing changed: the form matches the policy in force.")
    elif widgets.attempt(
        run_id, "set_policy", {"changes": changes, "reason": reason}, "; ".join(errors) if errors else None
    ):
        cid = data.submit_policy(run_id, changes, widgets.author(), reason)
        st.success(
            f"Command #{cid} written by {widgets.author()}: {json.dumps(changes, sort_keys=True)}. "
            f"The session applies it at round {int(info['rounds_done']) + 1} or the next one it starts."
        )

commands = data.commands(run_id)
pending = commands[commands["applied_round"].isna()] if not commands.empty else commands
if not pending.empty:
    st.subheader("Waiting for the next round")
    st.dataframe(pending, hide_index=True)

st.subheader("History")
rows = []
previous: dict = {}
for v in versions.itertuples(index=False):
    policy = json.loads(v.policy_json)
    rows.append(
        {
            "version": v.version,
            "from round": v.round,
            "author": v.author,
            "reason": v.reason,
            "changes": policy_form.diff(previous, policy) if previous else "(initial policy)",
        }
    )
    previous = policy
st.dataframe(rows, hide_index=True)
if not commands.empty:
    st.subheader("Control commands")
    st.dataframe(commands, hide_index=True)
