"""Agora's Streamlit app: ``agora ui`` runs ``streamlit run`` on this file.

Thin pages over ``ui.data`` (the only module that touches the store).
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from ui import pages

# Page files live in views/, not pages/, so Streamlit's older automatic page discovery never
# lists them beside st.navigation's menu. They must not share a name with a top-level package
# (``agents``): Streamlit puts their folder on sys.path, where ``agents.py`` would shadow it.
PAGES = Path(__file__).parent / "views"

st.set_page_config(page_title="Agora", layout="wide")
nav = st.navigation(
    [
        st.Page(PAGES / f"{p.file}.py", title=p.title, url_path=p.url_path or None, default=i == 0)
        for i, p in enumerate(pages.PAGES)
    ]
)
nav.run()
