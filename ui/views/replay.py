"""Replay: scrub through a run's rounds (market state, actions, deals at round k); replay or fork."""

from __future__ import annotations

import json

import streamlit as st

from ui import data, keys, policy_form, widgets


def fork_policy(text: str, current: dict) -> tuple[dict, str | None]:
    """The policy fields a fork changes, or why the text is not a valid change (one sentence)."""
    try:
        policy = json.loads(text)
    except json.JSONDecodeError as err:
        return {}, f"The policy change is not valid JSON ({err.msg} at line {err.lineno}); fix the text."
    if not isinstance(policy, dict):
        return {}, 'The policy change must be a JSON object of policy fields, such as {"fee_rate": 0.05}.'
    unknown = sorted(set(policy) - set(current))
    if unknown:
        return {}, f"The policy has no field {', '.join(unknown)}; see the Incentives page for the fields."
    _, errors = policy_form.validate(current, policy)
    if errors:
        return {}, f"The policy change is not valid: {'; '.join(errors)}."
    return policy, None


st.title("Replay")
widgets.operator()
info = widgets.pick_run()
if info is None:
    st.stop()
run_id = info["id"]
widgets.run_header(info)
done = int(info["rounds_done"])
if done < 1:
    st.info("No round has been committed yet.")
    st.stop()
widgets.from_query(keys.QUERY_ROUND, keys.REPLAY_ROUND, list(range(1, done + 1)), int)
if st.session_state.get(keys.REPLAY_ROUND, 1) > done:
    st.session_state[keys.REPLAY_ROUND] = done
k = st.slider("Round", 1, done, key=keys.REPLAY_ROUND) if done > 1 else 1
widgets.to_query(keys.QUERY_ROUND, keys.REPLAY_ROUND, k)
widgets.link("trace_view", f"trace of round {k}", run=run_id, round=k)
rounds = data.rounds(run_id)
row = rounds[rounds["round"] == k]
if not row.empty:
    r = row.iloc[0]
    c = st.columns(5)
    c[0].metric("Actions", int(r["actions"]))
    c[1].metric("Rejected", int(r["rejected"]))
    c[2].metric("Transactions", int(r["transactions"]))
    c[3].metric("Volume", f"{r['volume']:.2f}")
    c[4].metric("Efficiency so far", "-" if r["efficiency"] is None else f"{r['efficiency']:.1%}")
versions = data.policy_versions(run_id)
in_force = versions[versions["round"] <= k]
if not in_force.empty:
    v = in_force.iloc[-1]
    st.text(f"Policy in force at round {k}: version {v['version']} (set by {v['author']} from round {v['round']})")
    st.code(json.dumps(json.loads(v["policy_json"]), sort_keys=True), language=None)
left, right = st.columns(2)
left.subheader(f"Balances after round {k}")
left.dataframe(data.balances_at(run_id, k), hide_index=True)
right.subheader(f"Deals settled in round {k}")
deals = data.deals_in(run_id, k)
with right:
    event = st.dataframe(
        deals, hide_index=True, on_select="rerun", selection_mode="single-row", key=f"replay.deals.{k}"
    )
tx_open = widgets.clicked(event, [int(t) for t in deals["tx"]] if not deals.empty else [], "replay.deals.clicked")
if tx_open is not None:
    st.switch_page("views/transactions.py", query_params={"run": run_id, "tx": str(tx_open)})
st.subheader(f"Actions and messages in round {k}")
st.caption("In the order they were applied; payloads are what the agents sent, shown as plain text.")
st.dataframe(data.actions(run_id, round_=k, limit=1000), hide_index=True)

st.subheader("Replay or fork")
if not data.replay_available():
    st.info("sandbox.replay is not installed, so exact replay and fork cannot start here.")
    st.stop()
left, right = st.columns(2)
with left:
    st.text("Exact replay: re-execute every round from the record\nand compare the ledger and actions hashes.")
    # off loopback this makes the server re-run a whole run: the same identity rule as any write
    if st.button("Replay exactly") and widgets.attempt(run_id, "replay", {}):
        with st.spinner("replaying..."):
            ok, report = data.verify_replay(run_id)
        (st.success if ok else st.error)("Identical to the record." if ok else "The replay did not match the record.")
        st.code(report, language=None)  # a divergence quotes recorded actions: plain text
with right, st.form("fork"):
    st.text(f"Fork after round {k}: replay rounds 1..{k}, then go on with this policy.")
    changes = st.text_area("Policy fields to change (JSON)", value=json.dumps({"fee_rate": 0.05}), key=keys.FORK_POLICY)
    if st.form_submit_button("Start fork"):
        policy, problem = fork_policy(changes, data.policy_in_force(run_id))
        if widgets.attempt(run_id, "start_fork", {"round": k, "policy": changes}, problem):
            pid, log = data.start_fork(run_id, k, policy, widgets.author())
            st.success(
                f"Fork of {run_id} after round {k} started (process {pid}, output in {log}); "
                "it appears in the run list."
            )
