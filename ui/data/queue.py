"""The Alerts page's data: facets, groups and pages of alert cases, one case's evidence, bulk decisions.

Filters, grouping and paging run in SQL (``traces.alert_queue``); only the open case's evidence
is loaded. Decisions are ``review_alert`` control rows, one per case, all with the same reason.
"""

from __future__ import annotations

import json
from typing import Any

import pandas as pd
import streamlit as st

from traces import alert_queue as aq
from ui.data.core import LIVE_TTL, cached_store, clear, db_url, store


@st.cache_data(ttl=LIVE_TTL, show_spinner=False)
def _facets(url: str, run_id: str) -> dict[str, Any]:
    return aq.facets(cached_store(url), run_id)


def facets(run_id: str) -> dict[str, Any]:
    """Kinds, severities, statuses (with counts), agents and the round range of a run's cases."""
    return _facets(db_url(), run_id)


@st.cache_data(ttl=LIVE_TTL, show_spinner=False)
def _groups(url: str, run_id: str, flt: aq.CaseFilter) -> pd.DataFrame:
    return pd.DataFrame(
        aq.groups(cached_store(url), run_id, flt),
        columns=["kind", "agents", "agents_json", "cases", "open", "hits", "severity", "first_round", "last_round"],
    )


def groups(run_id: str, flt: aq.CaseFilter) -> pd.DataFrame:
    """Cases grouped by kind and agents (open first)."""
    return _groups(db_url(), run_id, flt)


@st.cache_data(ttl=LIVE_TTL, show_spinner=False)
def _page(url: str, run_id: str, flt: aq.CaseFilter, offset: int, limit: int) -> tuple[pd.DataFrame, int]:
    rows, total = aq.page(cached_store(url), run_id, flt, offset, limit)
    df = pd.DataFrame(rows, columns=list(aq.QUEUE_COLUMNS))
    df["agents"] = [", ".join(json.loads(a)) for a in df["agents_json"]]
    df = df.drop(columns=["agents_json"]).rename(columns={"alert_id": "case", "count": "hits", "round": "first_round"})
    return df, total


def page(run_id: str, flt: aq.CaseFilter, offset: int, limit: int) -> tuple[pd.DataFrame, int]:
    """One page of cases (open, most severe and latest first) and how many the filters select."""
    return _page(db_url(), run_id, flt, offset, limit)


def case_ids(run_id: str, flt: aq.CaseFilter) -> list[str]:
    """Every case id the filters select (for a bulk decision)."""
    return aq.case_ids(store(), run_id, flt)


def case(run_id: str, alert_id: str) -> dict[str, Any] | None:
    """One case with its evidence, interventions and the links its evidence points to."""
    row = aq.case_evidence(store(), run_id, alert_id)
    if row is None:
        return None
    evidence = row.evidence
    return {
        "row": row,
        "evidence": evidence,
        "links": aq.evidence_links(evidence, run_id, row.agents),
        "per_agent": pd.DataFrame.from_dict(evidence.get("per_agent") or {}, orient="index"),
        "history": pd.DataFrame(evidence.get("history") or []),
    }


def submit_reviews(
    run_id: str, alert_ids: list[str], decision: str, author: str, reason: str, amount: float | None = None
) -> list[int]:
    """Write one ``review_alert`` command per case, with one reason; the session applies them next round."""
    from traces import alerts as al

    ids = al.request_reviews(store(), run_id, alert_ids, decision, author, reason, amount)
    clear()
    return ids
