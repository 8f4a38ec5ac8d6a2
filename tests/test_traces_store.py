"""Spans into the store: no loss under a burst, idempotent writes, failures kept for retry, PostgreSQL."""

from __future__ import annotations

import os
import threading
import uuid

import pytest
from opentelemetry import context as otel_context
from opentelemetry import trace
from sqlalchemy import text
from traces_helpers import tiny

from protocols import semconv as sc
from sandbox import Session
from traces import RoundBatch, Store, read, trace_read
from traces.otel import TraceStoreError, setup_tracing
from traces.spans import as_mapping, stored_count, write_spans

PG_URL = os.environ.get("AGORA_TEST_PG_URL")


@pytest.fixture()
def store(tmp_path) -> Store:
    return Store(str(tmp_path / "s.db"))


def _burst(store: Store, n: int, threads: int = 1) -> tuple[str, object]:
    """``n`` spans started and ended as fast as Python can, under one run's root span."""
    run_id = f"burst-{uuid.uuid4().hex[:8]}"
    tracing = setup_tracing(store)
    run = tracing.open_run(run_id)
    tracer = trace.get_tracer("tests.burst")
    with tracer.start_as_current_span(sc.SPAN_SESSION, attributes={sc.RUN_ID: run_id}):
        ctx = otel_context.get_current()

        def work(k: int) -> None:
            token = otel_context.attach(ctx)
            for i in range(k):
                tracer.start_span("burst", attributes={sc.ROUND: i}).end()
            otel_context.detach(token)

        workers = [threading.Thread(target=work, args=(n // threads,)) for _ in range(threads)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
    return run_id, run.close()


def test_no_span_is_lost_in_a_burst(store) -> None:
    run_id, counts = _burst(store, 10_000)
    assert (counts.started, counts.ended, counts.stored, counts.pending) == (10_001, 10_001, 10_001, 0)
    assert stored_count(store, run_id) == 10_001
    assert trace_read.count_spans(store, run_id, operation="burst") == 10_000


def test_no_span_is_lost_when_threads_end_spans_at_once(store) -> None:
    run_id, counts = _burst(store, 4_000, threads=4)
    assert counts.started == counts.ended == counts.stored == stored_count(store, run_id) == 4_001


def test_re_exporting_spans_is_idempotent(store) -> None:
    result = Session(tiny(rounds=3), store=store).run()
    rows = [r.model_dump() for r in trace_read.spans(store, result.run_id, limit=None)]
    n = len(rows)
    assert write_spans(store, result.run_id, rows) == n  # the same spans again: no error, no duplicate
    batch = RoundBatch()
    batch.extend("spans", rows[:5])
    store.commit_round(result.run_id, batch, {})  # the round path is insert-or-ignore too
    assert stored_count(store, result.run_id) == n
    assert [r.model_dump() for r in trace_read.spans(store, result.run_id, limit=None)] == rows


def _refuse_span_writes(store: Store) -> None:
    with store.engine.begin() as conn:
        conn.execute(
            text(
                "CREATE TRIGGER refuse_spans BEFORE INSERT ON spans BEGIN SELECT RAISE(ABORT, 'disk refuses spans'); END"
            )
        )


def _allow_span_writes(store: Store) -> None:
    with store.engine.begin() as conn:
        conn.execute(text("DROP TRIGGER refuse_spans"))


def test_a_failed_final_write_is_a_clear_error_and_the_spans_are_kept(store) -> None:
    s = Session(tiny(rounds=3), store=store)
    s.hooks.after_commit.append(lambda sess, log: _refuse_span_writes(store) if log.round == 3 else None)
    # the last round's own span committed with that round; only the run's span is left for the final write
    with pytest.raises(
        TraceStoreError, match=r"1 spans could not be written .* kept in memory: fix the store, then call retry"
    ):
        s.run()
    run = read.run(store, s.run_id)
    assert run.status == "failed" and "TraceStoreError" in run.error
    held = s.tracer.run.pending  # rows already (tuples), or spans (either way kept, not dropped)
    assert [as_mapping(h)["name"] if isinstance(h, tuple) else h.name for h in held] == [sc.SPAN_SESSION]
    _allow_span_writes(store)
    counts = s.tracer.retry()
    assert counts.started == counts.ended == counts.stored == stored_count(store, s.run_id) and counts.pending == 0
    assert trace_read.span_counts(store, s.run_id).ok


def test_a_failed_round_commit_keeps_its_spans_for_retry(store) -> None:
    s = Session(tiny(rounds=4), store=store)
    s.hooks.round_start.append(lambda sess, log: _refuse_span_writes(store) if log.round == 2 else None)
    with pytest.raises(TraceStoreError, match="kept in memory") as info:
        s.run()
    assert "disk refuses spans" in str(info.value.__cause__)  # the round's own failure stays visible
    kept = len(s.tracer.run.pending)
    assert kept > 0 and stored_count(store, s.run_id) == s.tracer.run.stored
    _allow_span_writes(store)
    counts = s.tracer.retry()
    assert counts.stored == counts.ended == counts.started == stored_count(store, s.run_id)
    assert trace_read.count_spans(store, s.run_id, round_=2) > 0


@pytest.mark.skipif(not PG_URL, reason="AGORA_TEST_PG_URL is not set; PostgreSQL round trip skipped")
def test_postgresql_round_trip() -> None:
    store = Store(PG_URL)
    result = Session(tiny(rounds=8), store=store).run()
    rid = result.run_id
    counts = trace_read.span_counts(store, rid)
    assert counts is not None and counts.ok and counts.in_store == counts.stored == stored_count(store, rid)
    rows = trace_read.spans(store, rid, limit=None)
    big = [r for r in rows if r.start_ns > 2**31]
    assert big and all(r.end_ns >= r.start_ns for r in rows)  # 64-bit nanosecond columns
    assert write_spans(store, rid, [r.model_dump() for r in rows]) == len(rows)  # idempotent on PostgreSQL too
    pages = [r.span_id for p in range(0, len(rows), 50) for r in trace_read.spans(store, rid, offset=p, limit=50)]
    assert pages == [r.span_id for r in rows]
    series = trace_read.round_series(store, rid)
    assert [x.round for x in series] == list(range(1, 9))
    assert sum(x.submissions for x in series) == len(read.actions(store, rid))
    txs = read.transactions(store, rid)
    assert txs and trace_read.transaction_trace(store, rid, txs[0].tx_id)[0].span.name == sc.SPAN_SESSION
    store.dispose()


def test_a_run_resumed_after_a_kill_counts_on_from_what_was_stored(store) -> None:
    done = Session(tiny(rounds=1), store=store).run().run_id
    rows = [dict(r.model_dump(), run_id="killed-run") for r in trace_read.spans(store, done, limit=None)]
    write_spans(store, "killed-run", rows)  # what a killed process had committed: no counts row
    run = setup_tracing(store).open_run("killed-run")
    assert (run.started, run.ended, run.stored) == (len(rows),) * 3
    tracer = trace.get_tracer("tests.resume")
    with tracer.start_as_current_span(sc.SPAN_SESSION, attributes={sc.RUN_ID: "killed-run"}):
        for _ in range(3):
            tracer.start_span("after the restart").end()
    counts = run.close()
    assert counts.started == counts.ended == counts.stored == len(rows) + 4 == stored_count(store, "killed-run")
    assert trace_read.span_counts(store, "killed-run").ok


def test_a_store_from_an_older_version_is_one_clear_sentence(tmp_path) -> None:
    import sqlite3

    from traces.store import StoreError

    path = tmp_path / "old.db"
    Store(str(path)).engine  # noqa: B018  (create today's schema)
    con = sqlite3.connect(path)
    con.execute("alter table rounds drop column actions_hash")  # as if an older version had made it
    con.commit()
    con.close()
    with pytest.raises(
        StoreError, match=r"made by an older version of Agora: table 'rounds' lacks actions_hash; use a new database"
    ):
        Store(str(path)).engine  # noqa: B018
