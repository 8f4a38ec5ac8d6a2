"""The app's pages in menu order: one list that ``ui/app.py``, the tests, the benchmark and the
screenshot script all read, so a page added here appears everywhere at once.

No Streamlit import: scripts read this list without starting an app. Page files never share a
name with a module on the path (``agents``, ``trace``): Streamlit puts their folder on sys.path.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Page:
    """One page: its file in ``ui/views/`` (without ``.py``; an absolute path also works), its title, its URL path."""

    file: str
    title: str
    url_path: str


PAGES: tuple[Page, ...] = (
    Page("runs", "Runs", ""),  # the default page lives at /
    Page("market", "Market", "market"),
    Page("transactions", "Transactions", "transactions"),
    Page("trace_view", "Trace", "trace"),
    Page("agent_story", "Agents", "agents"),
    Page("alerts", "Alerts", "alerts"),
    Page("incentives", "Incentives", "incentives"),
    Page("replay", "Replay", "replay"),
)
"""Every page; the first is the default."""
