"""Pieces every page shares: the run picker, the operator's name and token, plain-text views.

Text agents wrote is untrusted, so it is only ever shown through ``st.text``, ``st.code`` or
a dataframe cell, never Markdown or HTML. Links (``link``) carry only ids the scenario assigned
(agents, deals, rounds), with Markdown's special characters escaped.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import streamlit as st

from ui import data, guard, keys


def pick_run() -> dict[str, Any] | None:
    """The sidebar's run selector (shared by every page); returns the chosen run's row."""
    runs = data.runs()
    if runs.empty:
        st.info(f"No runs in {data.db_url()} yet. Start one from the Runs page or with `agora demo`.")
        return None
    ids = list(runs["run"])
    from_query(keys.QUERY_RUN, keys.RUN, ids)  # a link to a run wins over the run shown before
    if st.session_state.get(keys.RUN) not in ids:
        st.session_state[keys.RUN] = ids[0]
    labels = {r: f"{r} ({s})" for r, s in zip(runs["run"], runs["status"], strict=True)}
    run_id = st.sidebar.selectbox("Run", ids, key=keys.RUN, format_func=labels.__getitem__)
    to_query(keys.QUERY_RUN, keys.RUN, run_id)
    return data.run(run_id)


def operator() -> str | None:
    """The sidebar's identity fields; returns why writes are refused right now, or None.

    With operators configured only a token is asked for, and the operator it maps to writes;
    otherwise a name (and, off loopback, the shared token).
    """
    address = st.get_option("server.address")
    try:
        known = guard.operators()
    except (ValueError, OSError) as err:
        st.sidebar.error(f"Writes are off: the operator list cannot be read ({err}).")
        st.session_state[keys.IDENTITY], st.session_state[keys.REFUSAL] = "", "The operator list cannot be read."
        return st.session_state[keys.REFUSAL]
    if known:
        st.sidebar.text_input("Operator token (writes are recorded under your name)", type="password", key=keys.TOKEN)
    else:
        st.sidebar.text_input("Your name (recorded with every write)", key=keys.AUTHOR)
        if not guard.bound_to_loopback(address):
            st.sidebar.text_input("Operator token", type="password", key=keys.TOKEN)
    name, refusal = guard.identify(
        address,
        str(st.session_state.get(keys.AUTHOR, "")),
        st.session_state.get(keys.TOKEN),
        known,
        guard.expected_token(),
    )
    if known and name:
        st.sidebar.caption(f"Writing as {name}")
    st.session_state[keys.IDENTITY], st.session_state[keys.REFUSAL] = name, refusal
    return refusal


def author() -> str:
    """Who is writing: the operator the token maps to, or the name entered."""
    if keys.IDENTITY in st.session_state:  # set by operator(): with operators configured, never the typed name
        return str(st.session_state[keys.IDENTITY]).strip()
    return str(st.session_state.get(keys.AUTHOR, "")).strip()


def client() -> str:
    """The client's address as the server saw it ('local' on this machine or when unknown)."""
    try:
        ip = st.context.ip_address
    except (AttributeError, RuntimeError):
        return "local"
    return ip if isinstance(ip, str) and ip else "local"  # None on localhost (and not a str in AppTest)


def attempt(run_id: str, action: str, detail: dict[str, Any], invalid: str | None = None) -> bool:
    """Record an attempted write (who, from where, when, what) and say whether it may go ahead.

    Refused when the operator's identity does not allow it, or when the input is ``invalid``
    (a one-sentence reason); the refusal is shown and recorded like an allowed attempt.
    """
    refusal = st.session_state.get(keys.REFUSAL, "Enter your name in the sidebar.") or invalid
    data.record_attempt(run_id, action, author(), client(), refusal is None, refusal or "allowed", detail)
    if refusal:
        st.error(refusal)
        return False
    return True


def run_header(info: dict[str, Any]) -> None:
    """Status line of a run: scenario, seed, rounds and status."""
    st.caption(
        f"run {info['id']} · scenario {info['scenario']} · seed {info['seed']} · "
        f"round {info['rounds_done']}/{info['rounds_planned']} · {info['status']}"
    )


def llm_calls(calls: Any, key: str = "calls") -> None:
    """LLM calls as a table; a click on a row (or the picker) shows that call's messages by role."""
    from ui import span_tree

    shown = calls.drop(columns=[c for c in ("prompt", "completion") if c in calls])
    event = st.dataframe(shown, hide_index=True, on_select="rerun", selection_mode="single-row", key=f"{key}.table")
    if "prompt" not in calls or calls.empty:
        return
    options = list(range(len(calls)))
    picked = clicked(event, options, f"{key}.clicked")
    if picked is not None:
        st.session_state[f"{key}.pick"] = picked
    if st.session_state.get(f"{key}.pick") not in options:
        st.session_state[f"{key}.pick"] = 0
    i = st.selectbox(
        "Show the messages of call",
        options,
        key=f"{key}.pick",
        format_func=lambda j: (
            f"round {calls.iloc[j]['round']} · {calls.iloc[j]['agent']} · call {calls.iloc[j]['seq']}"
            f" ({calls.iloc[j]['event']})"
        ),
    )
    row = calls.iloc[i]
    st.text(
        f"{row['agent']} in round {row['round']}: {row['prompt_tokens']} tokens in, {row['completion_tokens']} out, "
        f"{row['latency_ms']:.0f} ms, {row['cost_usd']:.4f} USD (messages are untrusted text, shown as data)"
    )
    span_tree.conversation({"messages_json": row["prompt"], "response_json": row["completion"]})


def clicked(event: Any, ids: list[Any], key: str) -> Any:
    """The id of the row a dataframe selection event newly points to, else None.

    Only a change counts: a selection persists across reruns, and must not override a choice
    made since (a link followed, a picker changed).
    """
    rows = list(event.selection.rows) if event is not None else []
    now = ids[rows[0]] if rows and rows[0] < len(ids) else None
    before = st.session_state.get(key)
    st.session_state[key] = now
    return now if now is not None and now != before else None


def from_query(query_key: str, state_key: str, options: list[Any], cast: Any = str) -> None:
    """Apply ``?query_key=`` to ``state_key`` when the URL brings a value not applied before.

    A followed link (same session, new URL) then wins over the previous choice, while a value
    already applied does not undo what the user picked since.
    """
    raw = st.query_params.get(query_key)
    seen = f"{state_key}.from_url"
    if raw is None or raw == st.session_state.get(seen):
        return
    st.session_state[seen] = raw
    try:
        value = cast(raw)
    except ValueError:
        return
    if value in options:
        st.session_state[state_key] = value


def to_query(query_key: str, state_key: str, value: Any) -> None:
    """Put the current choice in the URL (so the view can be shared) and mark it applied."""
    st.query_params[query_key] = str(value)
    st.session_state[f"{state_key}.from_url"] = str(value)


def link(page_file: str, label: str, **params: Any) -> None:
    """A link to another page with query parameters (ids are escaped: they are shown, not rendered)."""
    from ui.pages import PAGES

    text = _escape_md(label)
    query = {k: str(v) for k, v in params.items()}
    try:
        st.page_link(f"views/{page_file}.py", label=text, query_params=query)
    except st.errors.StreamlitAPIException:  # the page runs alone (AppTest of one file): a plain URL link
        path = next(p.url_path for p in PAGES if p.file == page_file)
        st.markdown(f"[{text}]({path}?{urlencode(query)})")


def _escape_md(text: str) -> str:
    return "".join("\\" + ch if ch in "\\`*_{}[]()#+-.!|<>~$" else ch for ch in str(text))
