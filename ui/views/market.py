"""Market: live charts per round and the network of who trades with whom."""

from __future__ import annotations

from typing import Any

import streamlit as st

from ui import charts, data, widgets

st.title("Market")
info = widgets.pick_run()
if info is None:
    st.stop()
run_id = info["id"]
run_info: dict[str, Any] = info  # not None past st.stop(), which mypy cannot carry into live_view


@st.fragment(run_every=2.0 if data.is_live(info) else None)
def live_view() -> None:
    """Everything that follows the run while it goes on (re-run every 2 s while it is live)."""
    now = data.run(run_id) or run_info
    widgets.run_header(now)
    rounds = data.rounds(run_id)
    if rounds.empty:
        st.info("No round has been committed yet.")
        return
    last = rounds.iloc[-1]
    cols = st.columns(5)
    cols[0].metric("Rounds", int(last["round"]))
    cols[1].metric("Transactions", int(rounds["transactions"].sum()))
    cols[2].metric("Volume", f"{rounds['volume'].sum():.2f}")
    cols[3].metric("Efficiency", "-" if last["efficiency"] is None else f"{last['efficiency']:.1%}")
    cols[4].metric("HHI", "-" if last["hhi"] is None else f"{last['hhi']:.0f}")
    st.plotly_chart(charts.prices(data.prices(run_id), data.benchmarks(run_id)), key="prices")
    left, right = st.columns(2)
    left.plotly_chart(charts.lines(rounds, ["volume"], "Volume per round", "bar"), key="volume")
    right.plotly_chart(charts.lines(rounds, ["efficiency"], "Allocative efficiency (cumulative)"), key="eff")
    left.plotly_chart(charts.lines(rounds, ["hhi"], "HHI of seller shares"), key="hhi")
    right.plotly_chart(charts.lines(rounds, ["fees", "fines"], "Fees and fines per round", "bar"), key="fees")
    shown = {
        "round",
        "actions",
        "accepted",
        "rejected",
        "transactions",
        "volume",
        "mean_price",
        "efficiency",
        "hhi",
        "fees",
        "fines",
        "surplus",
        "cum_surplus",
        "refunds",
    }
    others = [c for c in rounds.columns if c not in shown and rounds[c].notna().any()]
    if others:
        picked = st.multiselect(
            "More metrics the run records",
            others,
            default=[
                c
                for c in (
                    "collusion_index",
                    "posted_mean_price",
                    "price_dispersion",
                    "outcome_score",
                    "period_efficiency",
                )
                if c in others
            ][:2],
        )
        if picked:
            st.plotly_chart(charts.facets(rounds, picked, "Per round, each on its own axis"), key="more")
    pairs = data.trade_network(run_id)
    if not pairs.empty:
        agents = data.agents(run_id)
        roles = dict(zip(agents["agent"], agents["role"], strict=True))
        st.plotly_chart(charts.network(pairs, roles), key="network")
        st.caption("Top pairs by volume; click a row to open the buyer on the Agents page.")
        top = pairs.head(20)
        event = st.dataframe(top, hide_index=True, on_select="rerun", selection_mode="single-row", key="pairs")
        buyer = widgets.clicked(event, list(top["buyer"]), "pairs.clicked")
        if buyer is not None:
            st.switch_page("views/agent_story.py", query_params={"run": run_id, "agent": buyer})


live_view()
