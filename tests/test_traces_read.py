"""The span read API (filters, pages, trees, model calls, per-round series) and ``agora traces``."""

from __future__ import annotations

from collections import Counter

import pytest
from traces_helpers import FakeChattingAgent, tiny
from typer.testing import CliRunner

from protocols import semconv as sc
from sandbox import Session
from sandbox.cli import app
from traces import Store, read, trace_read


@pytest.fixture(scope="module")
def recorded(tmp_path_factory) -> tuple[Store, Session]:
    store = Store(str(tmp_path_factory.mktemp("read") / "r.db"))
    s = Session(tiny(rounds=8), store=store)
    s.spawn(FakeChattingAgent, n=2, role="buyer", budget=10, value=1, service="svc")
    s.run()
    return store, s


def test_pages_cover_the_run_once_in_start_order(recorded) -> None:
    store, s = recorded
    everything = trace_read.spans(store, s.run_id, limit=None)
    assert len(everything) == trace_read.count_spans(store, s.run_id) > 100
    paged = [r for p in range(0, len(everything), 37) for r in trace_read.spans(store, s.run_id, offset=p, limit=37)]
    assert [r.span_id for r in paged] == [r.span_id for r in everything]
    assert [r.start_ns for r in everything] == sorted(r.start_ns for r in everything)


def test_filters_by_agent_round_and_operation(recorded) -> None:
    store, s = recorded
    rows = trace_read.spans(store, s.run_id, agent="buyer-000", limit=None)
    assert rows and {r.agent_id for r in rows} == {"buyer-000"}
    assert len(rows) == trace_read.count_spans(store, s.run_id, agent="buyer-000")
    r3 = trace_read.spans(store, s.run_id, round_=3, limit=None)
    assert {r.round for r in r3} == {3} and any(r.name == sc.SPAN_ROUND for r in r3)
    submits = trace_read.spans(store, s.run_id, operation=sc.SPAN_SUBMIT, round_=3, agent="seller-000", limit=None)
    actions = read.actions(store, s.run_id, agent="seller-000", round_=3)
    assert [r.span_id for r in submits] == [a.span_id for a in actions]  # application order is start order
    llm_turns = trace_read.spans(store, s.run_id, operation=sc.SPAN_AGENT_TURN, limit=None)
    scripted_turns = trace_read.spans(store, s.run_id, operation=sc.SPAN_AGENT_DECIDE, limit=None)
    assert len(llm_turns) + len(scripted_turns) == 8 * len(s.agents)
    assert len(llm_turns) == 16  # invoke_agent only for the two agents that call a model


def test_the_trace_tree_behind_a_transaction(recorded) -> None:
    store, s = recorded
    tx = read.transactions(store, s.run_id)[0]
    nodes = trace_read.transaction_trace(store, s.run_id, tx.tx_id)
    assert nodes[0].span.name == sc.SPAN_SESSION and nodes[0].depth == 0
    by_id = {n.span.span_id: n for n in nodes}
    for n in nodes[1:]:  # depth-first: each node's parent is shown above it, one level up
        parent = by_id[trace_read.shown_parent(n.span)]
        assert n.depth == parent.depth + 1 and nodes.index(parent) < nodes.index(n)
    moves = [n.span for n in nodes if n.span.name == sc.SPAN_SUBMIT]
    assert moves and {m.thread_id for m in moves} == {tx.thread_id}
    assert moves[0].span_id == tx.span_id
    assert [n.span.attrs()[sc.TX_ID] for n in nodes if n.span.name == sc.SPAN_SETTLE] == [tx.tx_id]
    turns = {(n.span.agent_id, n.span.round) for n in nodes if n.span.operation in sc.TURN_OPERATIONS}
    assert turns == {(a, m.round) for m in moves for a in (tx.buyer, tx.seller)}  # both parties' turns in those rounds
    assert {m.agent_id for m in moves} <= {tx.buyer, tx.seller}
    assert trace_read.transaction_trace(store, s.run_id, 10_000) == []


def test_model_calls_of_an_agent_in_order(recorded) -> None:
    store, s = recorded
    calls = trace_read.llm_calls(store, s.run_id, "buyer-003")
    assert [c.round for c in calls] == list(range(1, 9)) and all(c.agent_id == "buyer-003" for c in calls)
    assert len(trace_read.llm_calls(store, s.run_id)) == 16
    parent = trace_read.span(store, s.run_id, calls[0].parent_id)
    assert parent.operation == sc.SPAN_AGENT_TURN and calls[0] in trace_read.children(store, s.run_id, parent.span_id)


def test_counts_and_per_round_series_agree(recorded) -> None:
    store, s = recorded
    ops = trace_read.operation_counts(store, s.run_id)
    series = trace_read.round_series(store, s.run_id)
    assert [x.round for x in series] == list(range(1, 9))
    assert sum(x.submissions for x in series) == ops[sc.SPAN_SUBMIT] == len(read.actions(store, s.run_id))
    assert sum(x.turns for x in series) == ops[sc.SPAN_AGENT_TURN] + ops[sc.SPAN_AGENT_DECIDE]
    assert sum(x.llm_calls for x in series) == ops["chat"] == 16
    assert sum(x.input_tokens for x in series) == sum(i for i, _ in trace_read.token_usage(store, s.run_id).values())
    assert all(x.max_turn_ns <= x.turn_ns for x in series)
    assert sum(x.spans for x in series) == sum(ops.values()) - ops[sc.SPAN_SESSION]
    rej = trace_read.rejections(store, s.run_id)
    assert rej == {k: v for k, v in s.rejections.items() if k != "agent_error"}
    assert sum(x.rejections for x in series) == sum(rej.values())
    slow = trace_read.slowest(store, s.run_id, 5, exclude=(sc.SPAN_SESSION, sc.SPAN_ROUND))
    assert len(slow) == 5 and [r.duration_ns for r in slow] == sorted((r.duration_ns for r in slow), reverse=True)
    assert not {r.operation for r in slow} & {sc.SPAN_SESSION, sc.SPAN_ROUND}
    assert Counter(r.operation for r in trace_read.spans(store, s.run_id, limit=None)) == Counter(ops)


def test_agora_traces_prints_the_summary(recorded) -> None:
    store, s = recorded
    db = store.url.removeprefix("sqlite:///")
    out = CliRunner().invoke(app, ["traces", s.run_id, "--db", db, "--slowest", "3"], terminal_width=200)
    assert out.exit_code == 0, out.output
    ops = trace_read.operation_counts(store, s.run_id)
    for op in (sc.SPAN_SUBMIT, sc.SPAN_AGENT_TURN, sc.SPAN_AGENT_DECIDE, "chat"):
        assert op in out.output
    assert str(sum(ops.values())) in out.output and "nothing lost" in out.output
    assert "buyer-003" in out.output  # tokens by agent
    missing = CliRunner().invoke(app, ["traces", "no-such-run", "--db", db])
    assert missing.exit_code == 2 and "no run 'no-such-run'" in missing.output


def test_keyset_pages_equal_offset_pages(tmp_path) -> None:
    from sandbox import Session, load_scenario
    from traces import Store, trace_read

    store = Store(str(tmp_path / "k.db"))
    run_id = Session(load_scenario("services"), rounds=4, store=store).run().run_id
    everything = trace_read.spans(store, run_id, limit=None)
    assert len(everything) > 60
    pages, after = [], None
    while True:
        page = trace_read.spans(store, run_id, limit=25, after=after)
        if not page:
            break
        pages.extend(page)
        after = (page[-1].start_ns, page[-1].span_id)
    assert [p.span_id for p in pages] == [e.span_id for e in everything]
    assert [p.span_id for p in trace_read.spans(store, run_id, offset=25, limit=25)] == [
        e.span_id for e in everything[25:50]
    ]


def test_ties_in_start_and_duration_are_ordered_by_span_id(tmp_path) -> None:
    """Span rows of a round may be written in any order (the store groups them by their NULL columns):
    children and the slowest spans come back in the same order whichever order they were written in."""
    from traces.spans import write_spans

    def row(span_id: str, parent: str | None) -> dict[str, object]:
        return {
            "run_id": "r",
            "span_id": span_id,
            "trace_id": "0" * 32,
            "parent_id": parent,
            "name": "agent.decide",
            "operation": "agent.decide",
            "start_ns": 5,
            "end_ns": 9,
            "duration_ns": 4,
            "attributes_json": "{}",
        }

    kids = [f"{i:016x}" for i in (3, 1, 2)]
    got = []
    for order in (kids, kids[::-1]):
        store = Store(str(tmp_path / f"t{len(got)}.db"))
        write_spans(store, "r", [row("f" * 16, None), *(row(k, "f" * 16) for k in order)])
        got.append(
            (
                [r.span_id for r in trace_read.children(store, "r", "f" * 16)],
                [r.span_id for r in trace_read.slowest(store, "r", n=4)],
            )
        )
    assert got[0] == got[1]
    assert got[0][0] == sorted(kids)
    assert got[0][1] == sorted([*kids, "f" * 16])
