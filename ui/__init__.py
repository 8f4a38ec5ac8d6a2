"""The Streamlit app (pages, charts and control writes). Nothing imports ``ui``."""
