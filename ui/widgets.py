"""Pieces every page shares: the run picker, the operator's name and token, plain-text views.

Text agents wrote is untrusted, so it is only ever shown through ``st.text``, ``st.code`` or
a dataframe cell, never Markdown or HTML.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from ui import data, guard, keys


def pick_run() -> dict[str, Any] | None:
    """The sidebar's run selector (shared by every page); returns the chosen run's row."""
    runs = data.runs()
    if runs.empty:
        st.info(f"No runs in {data.db_url()} yet. Start one from the Runs page or with `agora demo`.")
        return None
    ids = list(runs["run"])
    wanted = st.query_params.get(keys.QUERY_RUN)
    if wanted in ids and st.session_state.get(keys.RUN) != wanted and keys.RUN not in st.session_state:
        st.session_state[keys.RUN] = wanted
    if st.session_state.get(keys.RUN) not in ids:
        st.session_state[keys.RUN] = ids[0]
    labels = {r: f"{r} ({s})" for r, s in zip(runs["run"], runs["status"], strict=True)}
    run_id = st.sidebar.selectbox("Run", ids, key=keys.RUN, format_func=labels.__getitem__)
    st.query_params[keys.QUERY_RUN] = run_id
    return data.run(run_id)


def operator() -> str | None:
    """The sidebar's name (and, off loopback, token) fields; returns the refusal reason or None."""
    st.sidebar.text_input("Your name (recorded with every write)", key=keys.AUTHOR)
    address = st.get_option("server.address")
    if not guard.bound_to_loopback(address):
        st.sidebar.text_input("Operator token", type="password", key=keys.TOKEN)
    return guard.write_refusal(
        address, st.session_state.get(keys.AUTHOR, ""), st.session_state.get(keys.TOKEN), guard.expected_token()
    )


def author() -> str:
    """The name the operator entered."""
    return str(st.session_state.get(keys.AUTHOR, "")).strip()


def run_header(info: dict[str, Any]) -> None:
    """Status line of a run: scenario, seed, rounds and status."""
    st.caption(
        f"run {info['id']} · scenario {info['scenario']} · seed {info['seed']} · "
        f"round {info['rounds_done']}/{info['rounds_planned']} · {info['status']}"
    )


def llm_calls(calls: Any) -> None:
    """LLM calls as a table, then one call's prompt and completion as plain text."""
    st.dataframe(calls.drop(columns=[c for c in ("prompt", "completion") if c in calls]), hide_index=True)
    if "prompt" not in calls or calls.empty:
        return
    i = st.selectbox(
        "Show the prompt and completion of call", list(range(len(calls))), format_func=lambda j: f"#{j + 1}"
    )
    st.text("Prompt (untrusted text, shown as data):")
    st.code(str(calls.iloc[i]["prompt"]), language=None)
    st.text("Completion:")
    st.code(str(calls.iloc[i]["completion"]), language=None)
