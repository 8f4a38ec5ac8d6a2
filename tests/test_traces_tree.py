"""The span tree of a run: its shape, its attributes, and its links to the market's records."""

from __future__ import annotations

import json
from collections import Counter

import pytest
from traces_helpers import FakeChattingAgent, LeakySpanAgent, tiny

from protocols import MakeOffer
from protocols import semconv as sc
from protocols.policy import IncentivePolicy
from sandbox import Session
from sandbox.tracing import NoTracer
from traces import Store, read, trace_read
from traces.control import submit_command
from traces.otel import TraceLossError, setup_tracing


@pytest.fixture()
def store(tmp_path) -> Store:
    return Store(str(tmp_path / "t.db"))


def _all(store: Store, run_id: str) -> list:
    return list(trace_read.spans(store, run_id, limit=None))


def test_span_tree_shape_of_a_small_run(store) -> None:
    s = Session(tiny(rounds=4), store=store)
    result = s.run()
    rows = _all(store, result.run_id)
    by_id = {r.span_id: r for r in rows}
    roots = [r for r in rows if r.parent_id is None]
    assert sorted(r.name for r in roots) == sorted([sc.SPAN_SESSION] + [sc.SPAN_ROUND] * 4)
    (root,) = [r for r in roots if r.name == sc.SPAN_SESSION]
    # a trace per round, each linked to the run's root span; every span keeps the run id in the store
    rounds = {r.round: r for r in rows if r.name == sc.SPAN_ROUND}
    assert sorted(rounds) == [1, 2, 3, 4] and all(r.parent_id is None for r in rounds.values())
    assert len({r.trace_id for r in rows}) == 5 and len({r.trace_id for r in rounds.values()} | {root.trace_id}) == 5
    for r in rounds.values():
        (link,) = json.loads(r.links_json)
        assert (link["trace_id"], link["span_id"]) == (root.trace_id, root.span_id)
        assert trace_read.shown_parent(r) == root.span_id
        assert r.attrs()[sc.SESSION_ID] == r.attrs()[sc.RUN_ID] == result.run_id
    assert all(r.run_id == result.run_id for r in rows)
    for r in rows:
        if r.name in (sc.SPAN_SESSION, sc.SPAN_ROUND):
            continue
        parent = by_id[r.parent_id]
        assert parent.name == sc.SPAN_ROUND and parent.round == r.round, r.name
        assert r.trace_id == parent.trace_id == rounds[r.round].trace_id
        assert parent.start_ns <= r.start_ns and r.end_ns <= parent.end_ns
    turns = Counter(r.round for r in rows if r.operation in sc.TURN_OPERATIONS)
    assert turns == {1: 5, 2: 5, 3: 5, 4: 5}
    # scripted traders call no model: Agora's own span name, no GenAI operation, so LLM backends do not list them
    assert {r.name for r in rows if r.operation in sc.TURN_OPERATIONS} == {sc.SPAN_AGENT_DECIDE}
    assert not any(sc.GEN_AI_OPERATION in r.attrs() for r in rows if r.operation == sc.SPAN_AGENT_DECIDE)
    # one submission span per action row, and each row points at its own span
    actions = read.actions(store, result.run_id)
    submits = {r.span_id: r for r in rows if r.name == sc.SPAN_SUBMIT}
    assert len(submits) == len(actions) > 0
    for a in actions:
        sp = submits[a.span_id]
        assert (sp.agent_id, sp.round, sp.action_type, sp.rule) == (a.agent_id, a.round, a.action_type, a.rule)
        assert sp.verdict == ("accepted" if a.accepted else "rejected")
    counts = trace_read.span_counts(store, result.run_id)
    assert (
        counts is not None
        and counts.ok
        and counts.started == counts.ended == counts.stored == counts.in_store == len(rows)
    )


def test_transactions_link_the_negotiation_that_produced_them(store) -> None:
    result = Session(tiny(rounds=8), store=store).run()
    txs = read.transactions(store, result.run_id)
    assert txs, "the tiny market should trade in 8 rounds"
    for tx in txs:
        first = trace_read.span(store, result.run_id, tx.span_id)
        assert first is not None and first.name == sc.SPAN_SUBMIT and first.thread_id == tx.thread_id
        assert first.action_type in ("request_quote", "make_offer") and first.verdict == "accepted"
        assert tx.trace_id == first.trace_id
        settle = [
            r
            for r in trace_read.spans(store, result.run_id, operation=sc.SPAN_SETTLE, limit=None)
            if r.attrs()[sc.TX_ID] == tx.tx_id
        ]
        assert len(settle) == 1
        links = json.loads(settle[0].links_json)
        assert links == [{"trace_id": first.trace_id, "span_id": first.span_id, "attributes": {}}]
        a = settle[0].attrs()
        assert (a[sc.BUYER], a[sc.SELLER], a[sc.PRICE], a[sc.FEE], a[sc.DEAL_STATUS]) == (
            tx.buyer,
            tx.seller,
            tx.price,
            tx.fee,
            tx.status,
        )


class _Hostile(FakeChattingAgent.__mro__[1]):  # a plain Agent
    """A FAKE hostile agent: a NaN price, an offer on a listing that does not exist, and garbage."""

    kind = "fake_hostile"

    def decide(self, obs):
        return [MakeOffer(price=float("nan"), listing_id="L1"), MakeOffer(price=5.0, listing_id="nope"), "not json {"]


def test_submission_attributes_name_the_verdict_and_rule(store) -> None:
    s = Session(tiny(rounds=2), store=store)
    s.spawn(_Hostile, n=1, role="buyer", budget=50, value=10, service="svc")
    s.run()
    rows = [r for r in _all(store, s.run_id) if r.agent_id == "buyer-003" and r.name == sc.SPAN_SUBMIT]
    assert len(rows) == 6
    for r in rows:
        a = r.attrs()
        assert a[sc.AGENT_ID] == "buyer-003" and a[sc.ROUND] == r.round
        assert a[sc.VERDICT] == sc.VERDICT_REJECTED and a[sc.VERDICT_RULE] == r.rule and a[sc.VERDICT_REASON]
        assert isinstance(a[sc.ACTION_SEQ], int) and sc.ACTION_JSON in a
    rules = Counter(r.rule for r in rows)
    assert rules["schema"] == 2 and rules["unknown_listing"] == 2
    nan_offer = [r.attrs() for r in rows if r.action_type == "make_offer" and "NaN" in r.attrs()[sc.ACTION_JSON]]
    assert nan_offer and all(sc.PRICE not in a for a in nan_offer)  # a NaN price is not an int attribute
    ok = [r.attrs() for r in _all(store, s.run_id) if r.verdict == "accepted" and r.action_type == "make_offer"]
    assert ok and all(isinstance(a[sc.PRICE], int) and a[sc.PRICE] > 0 for a in ok)
    turn = next(r for r in _all(store, s.run_id) if r.operation in sc.TURN_OPERATIONS and r.agent_id == "buyer-003")
    ta = turn.attrs()
    assert turn.name == sc.SPAN_AGENT_DECIDE and sc.GEN_AI_OPERATION not in ta  # a scripted agent, not an LLM one
    assert ta[sc.AGENT_ROLE] == "buyer" and ta[sc.AGENT_KIND] == "fake_hostile" and ta[sc.AGENT_ACTIONS] == 3


def test_policy_changes_and_control_commands_are_traced(store) -> None:
    s = Session(tiny(rounds=3), store=store)
    s.set_policy(IncentivePolicy(fee_rate=0.07), author="alice", reason="try a higher fee")
    submit_command(store, s.run_id, "set_policy", {"fee_rate": 0.01}, author="bob", reason="too high")
    s.run()
    changes = trace_read.spans(store, s.run_id, operation=sc.SPAN_POLICY, limit=None)
    assert [(c.round, c.attrs()[sc.POLICY_AUTHOR]) for c in changes] == [(1, "alice"), (1, "bob")]
    changed = json.loads(changes[0].attrs()[sc.POLICY_CHANGES])
    assert list(changed) == ["fee_rate"] and "0.07" in json.dumps(changed)
    assert json.loads(changes[0].attrs()[sc.POLICY_JSON])["fee_rate"] == 0.07
    assert changes[1].attrs()[sc.POLICY_REASON] == "too high"
    round1 = trace_read.spans(store, s.run_id, operation=sc.SPAN_ROUND, round_=1)[0]
    (event,) = round1.events()
    assert event["name"] == sc.EVENT_CONTROL
    assert event["attributes"] == {
        sc.CONTROL_KIND: "set_policy",
        sc.CONTROL_AUTHOR: "bob",
        sc.CONTROL_OUTCOME: "applied",
    }


def test_model_call_spans_nest_under_the_agent_turn(store) -> None:
    s = Session(tiny(rounds=2), store=store)
    ids = s.spawn(FakeChattingAgent, n=2, role="buyer", budget=10, value=1, service="svc")
    s.run()
    rows = _all(store, s.run_id)
    by_id = {r.span_id: r for r in rows}
    for aid in ids:
        calls = trace_read.llm_calls(store, s.run_id, aid)
        assert [c.round for c in calls] == [1, 2]  # inherited from the turn, in order
        for c in calls:
            parent = by_id[c.parent_id]
            assert parent.operation == sc.SPAN_AGENT_TURN and parent.agent_id == aid and c.agent_id == aid
            assert c.model == "fake-model" and c.input_tokens == 10 + c.round and c.output_tokens == 3
            assert "secret prompt" in c.attrs()[sc.GEN_AI_INPUT_MESSAGES]
    assert trace_read.token_usage(store, s.run_id) == {ids[0]: (23, 6), ids[1]: (23, 6)}


def test_content_capture_off_keeps_prompts_out_of_the_store(store) -> None:
    s = Session(tiny(rounds=1), store=store, tracing=setup_tracing(store, capture_content=False))
    s.spawn(FakeChattingAgent, n=1, role="buyer", budget=10, value=1, service="svc")
    s.run()
    (call,) = trace_read.llm_calls(store, s.run_id)
    a = call.attrs()
    assert sc.GEN_AI_INPUT_MESSAGES not in a and sc.GEN_AI_OUTPUT_MESSAGES not in a
    assert a[sc.GEN_AI_REQUEST_MODEL] == "fake-model" and call.input_tokens == 11


def test_the_standard_variable_switches_content_capture_off(store, monkeypatch) -> None:
    monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "false")
    s = Session(tiny(rounds=1), store=store)  # as `agora run` makes it
    s.spawn(FakeChattingAgent, n=1, role="buyer", budget=10, value=1, service="svc")
    s.run()
    (call,) = trace_read.llm_calls(store, s.run_id)
    assert sc.GEN_AI_INPUT_MESSAGES not in call.attrs() and call.input_tokens == 11


def test_tracing_off_writes_no_spans_and_no_span_ids(store) -> None:
    s = Session(tiny(rounds=3), store=store, tracing=False)
    assert isinstance(s.tracer, NoTracer) and not s.tracer.enabled
    s.run()
    assert trace_read.count_spans(store, s.run_id) == 0
    assert all(a.span_id is None for a in read.actions(store, s.run_id))
    assert trace_read.span_counts(store, s.run_id) is None


def test_no_store_still_counts_and_checks(store) -> None:
    s = Session(tiny(rounds=2), tracing=True)
    s.run()
    c = s.tracer.last_counts
    assert c is not None and c.started == c.ended > 0 and c.stored == 0 and c.pending == 0


def test_a_span_left_open_is_an_error_the_user_sees(store) -> None:
    s = Session(tiny(rounds=1), store=store)
    s.spawn(LeakySpanAgent, n=1, role="buyer", budget=10, value=1, service="svc")
    with pytest.raises(TraceLossError, match="started but .* ended"):
        s.run()
    assert read.run(store, s.run_id).status == "failed"


def test_two_sessions_in_one_process_keep_their_own_spans(store) -> None:
    import asyncio

    a, b = Session(tiny(rounds=3, seed=1), store=store), Session(tiny(rounds=5, seed=2), store=store)

    async def both() -> None:
        await asyncio.gather(a.arun(), b.arun())

    asyncio.run(both())
    for s, n_rounds in ((a, 3), (b, 5)):
        rows = _all(store, s.run_id)
        assert {r.round for r in rows if r.name == sc.SPAN_ROUND} == set(range(1, n_rounds + 1))
        assert len({r.trace_id for r in rows}) == 1 + n_rounds  # the run's root and a trace per round
        assert len([r for r in rows if r.name == sc.SPAN_SUBMIT]) == len(read.actions(store, s.run_id))
        assert s.tracer.last_counts.stored == len(rows)


def test_a_run_resumed_in_segments_keeps_counting(store) -> None:
    s = Session(tiny(rounds=5), store=store)
    s.run(rounds=2)
    first = trace_read.span_counts(store, s.run_id)
    s.run()  # the remaining three rounds: a second session.run span, a second trace
    counts = trace_read.span_counts(store, s.run_id)
    rows = _all(store, s.run_id)
    assert counts.ok and counts.stored == counts.in_store == len(rows) > first.stored
    assert [r.name for r in rows if r.parent_id is None and r.name == sc.SPAN_SESSION] == [sc.SPAN_SESSION] * 2
    assert len({r.trace_id for r in rows}) == 2 + 5  # two session.run traces, a trace per round
    assert sorted(r.round for r in rows if r.name == sc.SPAN_ROUND) == [1, 2, 3, 4, 5]


def test_spans_may_go_to_a_store_of_their_own(tmp_path) -> None:
    records, spans_db = Store(str(tmp_path / "records.db")), Store(str(tmp_path / "spans.db"))
    s = Session(tiny(rounds=3), store=records, tracing=setup_tracing(spans_db))
    s.run()
    assert trace_read.count_spans(records, s.run_id) == 0
    counts = trace_read.span_counts(spans_db, s.run_id)
    assert counts.ok and counts.stored == trace_read.count_spans(spans_db, s.run_id) > 0
    assert {a.span_id for a in read.actions(records, s.run_id)} <= {r.span_id for r in _all(spans_db, s.run_id)}


class _Crashing(FakeChattingAgent.__mro__[1]):  # a plain Agent
    """A FAKE agent whose turn raises."""

    kind = "fake_crashing"

    def decide(self, obs):
        raise ValueError("bug in the strategy")


def test_a_failed_turn_is_an_error_span_its_action_row_points_at(store) -> None:
    s = Session(tiny(rounds=2), store=store)
    (aid,) = s.spawn(_Crashing, n=1, role="buyer", budget=10, value=1, service="svc")
    s.run()
    errors = [a for a in read.actions(store, s.run_id) if a.action_type == "turn_error"]
    assert [a.round for a in errors] == [1, 2]
    for a in errors:
        turn = trace_read.span(store, s.run_id, a.span_id)
        assert turn.operation in sc.TURN_OPERATIONS and turn.agent_id == aid and turn.round == a.round
        assert turn.status == "ERROR" and "bug in the strategy" in turn.status_message
        assert turn.events()[0]["name"] == "exception"


def test_round_span_commits_with_its_round(tmp_path) -> None:
    """A crash right after round k's commit must not lose round k's own span."""
    import asyncio

    from sqlalchemy import text

    from sandbox import Session, load_scenario
    from traces import Store

    store = Store(str(tmp_path / "r.db"))
    s = Session(load_scenario("services"), rounds=5, store=store)
    asyncio.run(s.astep())
    asyncio.run(s.astep())  # no end of run: what is in the store is what a kill -9 would leave
    with store.engine.connect() as conn:
        rounds = (
            conn.execute(
                text("select round from spans where run_id = :r and name = 'session.round' order by round"),
                {"r": s.run_id},
            )
            .scalars()
            .all()
        )
    assert rounds == [1, 2]
