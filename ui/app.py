"""Agora's Streamlit app: ``agora ui`` runs ``streamlit run`` on this file.

Thin pages over ``ui.data`` (the only module that touches the store).
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

# Page files live in views/, not pages/, so Streamlit's older automatic page discovery never
# lists them beside st.navigation's menu. They must not share a name with a top-level package
# (``agents``): Streamlit puts their folder on sys.path, where ``agents.py`` would shadow it.
PAGES = Path(__file__).parent / "views"

st.set_page_config(page_title="Agora", layout="wide")
nav = st.navigation(
    [
        st.Page(PAGES / "runs.py", title="Runs", default=True),
        st.Page(PAGES / "market.py", title="Market"),
        st.Page(PAGES / "transactions.py", title="Transactions"),
        st.Page(PAGES / "agent_story.py", title="Agents", url_path="agents"),
        st.Page(PAGES / "alerts.py", title="Alerts"),
        st.Page(PAGES / "incentives.py", title="Incentives"),
        st.Page(PAGES / "replay.py", title="Replay"),
    ]
)
nav.run()
