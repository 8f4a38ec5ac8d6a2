"""The read API as pandas DataFrames, for notebooks and analysis scripts.

One function per table, with the same filters as ``traces.read`` / ``traces.trace_read``, each
one SQL query read straight into a DataFrame (no row objects in between). ``RunFrames`` binds
a store and a run::

    from traces.frames import RunFrames
    f = RunFrames("agora.db", run_id)
    f.transactions().groupby("buyer").price.mean()
    f.llm_calls(fault="timeout")

Money columns are integer micro-units, as in the ledger (``price / 1e6`` is units); span
times are nanoseconds since the epoch. JSON columns stay text; ``parse_json`` opens one.
"""

from __future__ import annotations

import json
from typing import Any

import pandas as pd
from sqlalchemy import Select, select

from traces.llm_calls import LLMCallRow
from traces.schema import ActionRow, LedgerEntryRow, RoundRow, RunRow, TransactionRow
from traces.spans import COLUMN_ATTRIBUTES, SpanRow, attributes_json_of
from traces.store import Store

__all__ = [
    "RunFrames",
    "actions",
    "ledger",
    "llm_calls",
    "metrics",
    "parse_json",
    "rounds",
    "runs",
    "spans",
    "transactions",
]


def _store(store: Store | str) -> Store:
    return Store(store) if isinstance(store, str) else store


def _frame(store: Store | str, q: Select[Any]) -> pd.DataFrame:
    with _store(store).engine.connect() as conn:
        return pd.read_sql(q, conn)


def _table(row: Any) -> Any:
    return row.__table__


def runs(store: Store | str, limit: int = 200) -> pd.DataFrame:
    """Runs, the most recent first."""
    t = _table(RunRow)
    return _frame(store, select(t).order_by(t.c.started_at.desc()).limit(limit))


def transactions(store: Store | str, run_id: str, *, agent: str | None = None) -> pd.DataFrame:
    """A run's transactions in settlement order (of one agent, as buyer or seller, if given)."""
    t = _table(TransactionRow)
    q = select(t).where(t.c.run_id == run_id)
    if agent is not None:
        q = q.where((t.c.buyer == agent) | (t.c.seller == agent))
    return _frame(store, q.order_by(t.c.tx_id))


def actions(
    store: Store | str,
    run_id: str,
    *,
    agent: str | None = None,
    round_: int | None = None,
    accepted: bool | None = None,
) -> pd.DataFrame:
    """A run's submitted actions in application order, filtered."""
    t = _table(ActionRow)
    q = select(t).where(t.c.run_id == run_id)
    if agent is not None:
        q = q.where(t.c.agent_id == agent)
        if accepted is None:  # lets the (run, accepted, agent) index serve it (traces.schema.agent_actions)
            q = q.where(t.c.accepted.in_((False, True)))
    if round_ is not None:
        q = q.where(t.c.round == round_)
    if accepted is not None:
        q = q.where(t.c.accepted == accepted)
    return _frame(store, q.order_by(t.c.round, t.c.seq))


def ledger(store: Store | str, run_id: str) -> pd.DataFrame:
    """Every ledger posting of a run, in order."""
    t = _table(LedgerEntryRow)
    return _frame(store, select(t).where(t.c.run_id == run_id).order_by(t.c.seq))


def rounds(store: Store | str, run_id: str) -> pd.DataFrame:
    """Per-round figures (actions, deals, volume, surplus, efficiency, mean price) and hashes."""
    t = _table(RoundRow)
    return _frame(store, select(t).where(t.c.run_id == run_id).order_by(t.c.round))


def metrics(store: Store | str, run_id: str) -> pd.DataFrame:
    """Per-round metrics, one column per metric (``metrics_json`` opened), indexed by round."""
    df = rounds(store, run_id)
    if df.empty:
        return pd.DataFrame()
    opened = pd.DataFrame([json.loads(m) for m in df["metrics_json"]], index=df["round"])
    base = df.set_index("round")[["n_actions", "n_accepted", "n_rejected", "n_tx", "volume", "surplus"]]
    return base.join(opened[[c for c in opened.columns if c not in base.columns]])


def spans(
    store: Store | str,
    run_id: str,
    *,
    agent: str | None = None,
    round_: int | None = None,
    operation: str | None = None,
    trace_id: str | None = None,
) -> pd.DataFrame:
    """A run's spans in start order, filtered (``operation``: ``chat``, ``protocol.submit``, ...)."""
    t = _table(SpanRow)
    q = select(t).where(t.c.run_id == run_id)
    for column, value in (("agent_id", agent), ("round", round_), ("operation", operation), ("trace_id", trace_id)):
        if value is not None:
            q = q.where(t.c[column] == value)
    df = _frame(store, q.order_by(t.c.start_ns, t.c.span_id))
    if not df.empty:  # every attribute in attributes_json, those kept in columns too (traces.spans)
        df["attributes_json"] = [attributes_json_of(r) for r in _records(df)]
    return df


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    """The column-held attributes of each row as stored (pandas reads an integer column with NULLs as floats)."""
    out = []
    for r in df.to_dict("records"):
        row = {"attributes_json": r["attributes_json"]}
        for _, column, kind in COLUMN_ATTRIBUTES:
            v = r.get(column)
            if v is None or (isinstance(v, float) and v != v):
                v = None
            elif kind is int and isinstance(v, float):
                v = int(v)
            row[column] = v
        out.append(row)
    return out


def llm_calls(
    store: Store | str,
    run_id: str,
    *,
    agent: str | None = None,
    round_: int | None = None,
    fault: str | None = None,
    model: str | None = None,
) -> pd.DataFrame:
    """A run's model-call records (``llm_calls``: tokens, cost, latency, fault), in order."""
    t = _table(LLMCallRow)
    q = select(t).where(t.c.run_id == run_id)
    for column, value in (("agent_id", agent), ("round", round_), ("fault", fault), ("model", model)):
        if value is not None:
            q = q.where(t.c[column] == value)
    return _frame(store, q.order_by(t.c.round, t.c.agent_id, t.c.seq))


def parse_json(df: pd.DataFrame, column: str) -> pd.Series:
    """A JSON text column opened into Python objects (None stays None)."""
    return df[column].map(lambda v: json.loads(v) if isinstance(v, str) else None)


class RunFrames:
    """One run's tables as DataFrames: ``RunFrames(store_or_url, run_id).transactions()`` and so on."""

    def __init__(self, store: Store | str, run_id: str) -> None:
        self.store = _store(store)
        self.run_id = run_id

    def transactions(self, **filters: Any) -> pd.DataFrame:
        """See ``traces.frames.transactions``."""
        return transactions(self.store, self.run_id, **filters)

    def actions(self, **filters: Any) -> pd.DataFrame:
        """See ``traces.frames.actions``."""
        return actions(self.store, self.run_id, **filters)

    def ledger(self) -> pd.DataFrame:
        """See ``traces.frames.ledger``."""
        return ledger(self.store, self.run_id)

    def rounds(self) -> pd.DataFrame:
        """See ``traces.frames.rounds``."""
        return rounds(self.store, self.run_id)

    def metrics(self) -> pd.DataFrame:
        """See ``traces.frames.metrics``."""
        return metrics(self.store, self.run_id)

    def spans(self, **filters: Any) -> pd.DataFrame:
        """See ``traces.frames.spans``."""
        return spans(self.store, self.run_id, **filters)

    def llm_calls(self, **filters: Any) -> pd.DataFrame:
        """See ``traces.frames.llm_calls``."""
        return llm_calls(self.store, self.run_id, **filters)
