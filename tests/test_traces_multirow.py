"""Span rows written in multi-row statements (``traces.multirow``) are the rows the row-at-a-time insert writes."""

from __future__ import annotations

import sqlite3

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sandbox import Session
from sandbox.scenario import load_scenario
from traces import Store, multirow, sql_writes, trace_read
from traces.spans import SPAN_COLUMNS, SpanRow
from traces.store import insert_tuples

TABLE = SpanRow.__table__  # type: ignore[attr-defined]

_text = st.sampled_from(["a", "b", "run-1", "it's", "ü", ""])
_maybe = st.none() | _text
_int = st.none() | st.integers(-(2**62), 2**62)


@st.composite
def span_rows(draw: st.DrawFn) -> list[tuple[object, ...]]:
    """Rows that share some values and not others, NULLs anywhere a column allows them, repeated keys."""
    n = draw(st.integers(0, 80))
    ids = draw(st.lists(st.sampled_from([f"{i:016x}" for i in range(60)]), min_size=n, max_size=n))
    rows = []
    for sid in ids:
        start = draw(st.integers(0, 2**62))
        rows.append(
            (
                draw(st.sampled_from(["r1", "r2"])),  # run_id
                sid,
                draw(st.sampled_from(["t" * 32, "u" * 32])),  # trace_id
                draw(st.sampled_from([None, "p" * 16, "q" * 16])),  # parent_id
                draw(_text),  # name
                draw(_text),  # operation
                draw(st.sampled_from(["INTERNAL", "CLIENT"])),
                draw(_maybe),  # agent_id
                draw(_int),  # round
                draw(_maybe),  # thread_id
                draw(_maybe),  # action_type
                draw(_maybe),  # verdict
                draw(_maybe),  # rule
                draw(_maybe),  # model
                draw(_int),  # input_tokens
                draw(_int),  # output_tokens
                draw(st.sampled_from(["UNSET", "ERROR"])),
                draw(_maybe),  # status_message
                start,
                start + 1,
                1,
                draw(st.sampled_from(["{}", '{"a":1}'])),
                draw(st.none() | st.just("[]")),  # events_json
                draw(st.none() | st.just("[]")),  # links_json
            )
        )
    return rows


def _dump(db: str) -> list[tuple[object, ...]]:
    typed = ", ".join(f"{c}, typeof({c})" for c in SPAN_COLUMNS)
    return sorted(sqlite3.connect(db).execute(f"select {typed} from spans").fetchall(), key=repr)  # noqa: S608


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batches=st.lists(span_rows(), min_size=1, max_size=3), per_insert=st.sampled_from([1, 2, 4, 32]))
def test_multirow_insert_stores_what_the_row_at_a_time_insert_stores(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch, batches, per_insert: int
) -> None:
    # smaller statements than a run uses, so full statements, leftovers and single rows all occur
    monkeypatch.setattr(multirow, "ROWS_PER_INSERT", per_insert)
    monkeypatch.setattr(multirow, "_PLANS", {})
    where = tmp_path_factory.mktemp("m")
    dbs = {}
    for how in ("multirow", "one_by_one"):
        dbs[how] = db = str(where / f"{how}.db")
        store = Store(db)
        for rows in batches:  # insert-or-ignore: a key repeated within a batch or across batches keeps its first row
            with store.engine.begin() as conn:
                if how == "multirow":
                    insert_tuples(conn, TABLE, SPAN_COLUMNS, rows)
                else:
                    stmt = sql_writes.insert_ignoring(TABLE, "sqlite")
                    sql_writes._insert_without_nulls(conn, TABLE, stmt, SPAN_COLUMNS, rows)
        store.dispose()
    assert _dump(dbs["multirow"]) == _dump(dbs["one_by_one"])


def test_a_wide_row_gets_fewer_rows_a_statement(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    """Under the parameter limit: a statement of n rows binds the shared values once and each row's own."""
    monkeypatch.setattr(multirow, "MAX_PARAMETERS", 100)
    monkeypatch.setattr(multirow, "_PLANS", {})
    store = Store(str(tmp_path / "w.db"))
    row = ("r", "0" * 16, "t" * 32, "p" * 16, "n", "n", "INTERNAL", "a", 1, "th", "x", "v", "rule", "m", 1, 2)
    rows = [(*row[:1], f"{i:016x}", *row[2:], "UNSET", "s", 5, 6, 1, "{}", "[]", "[]") for i in range(50)]
    with store.engine.begin() as conn:
        insert_tuples(conn, TABLE, SPAN_COLUMNS, rows)
    ((n, sql, _, _),) = multirow._PLANS.values()
    assert n == 4 and 7 + n * 17 <= 100 and sql[n].count("(?1, ") == n  # 7 shared, 17 own values a row
    assert sqlite3.connect(str(tmp_path / "w.db")).execute("select count(*) from spans").fetchone() == (50,)


def test_a_traced_run_writes_its_spans_in_multirow_statements(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The round commit takes the multi-row path for spans, and the run's counts hold."""
    used: list[int] = []
    real = multirow._write

    def spy(conn, plan, group):  # type: ignore[no-untyped-def]
        used.append(len(group))
        real(conn, plan, group)

    monkeypatch.setattr(multirow, "_write", spy)
    store = Store(str(tmp_path / "s.db"))
    r = Session(load_scenario("services"), store=store, tracing=True).run()
    c = trace_read.span_counts(store, r.run_id)
    assert c is not None and max(used) > 1 and sum(used) == c.in_store
    assert c.started == c.ended == c.stored == c.in_store == trace_read.count_spans(store, r.run_id) and c.ok
