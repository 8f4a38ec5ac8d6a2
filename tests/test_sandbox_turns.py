"""Turns only when something happened (agents.wake), and sub-steps within a round."""

from __future__ import annotations

import sqlite3

from agents import Agent
from agents.llm import LLMAgent
from agents.observation import InboxMessage, Observation, Private, Receipt, ThreadInfo
from agents.wake import EVERY_ROUND, WakeRule, WakeState, wake_reason
from protocols.actions import PostService
from sandbox import Session
from sandbox.replay import replay
from sandbox.scenario import parse_scenario
from traces import Store
from traces import trace_read as read


def _obs(round_: int = 1, **kw) -> Observation:
    base = {"agent_id": "buyer-000", "role": "buyer", "round": round_, "rounds_left": 10, "balance": 100.0}
    base.setdefault("private", Private(values={"translation": 80.0}, demand=1))
    return Observation(**{**base, **kw})


def _thread(state: str = "offered", price: float = 50.0, moves: tuple[str, ...] = ("accept",)) -> ThreadInfo:
    return ThreadInfo(
        id="T1",
        listing_id="L1",
        service="translation",
        role="buyer",
        counterparty="seller-000",
        state=state,
        price=price,
        your_move=list(moves),
    )


def test_wake_rule_wakes_on_events_and_waits_otherwise() -> None:
    rule, state = WakeRule(heartbeat=3, price_move=0.1), WakeState()
    seller = _obs(1, role="seller", private=Private(costs={"translation": 20.0}, capacity=2))
    assert wake_reason(rule, state, seller) == (True, "first turn")
    go, why = wake_reason(rule, state, _obs(2))
    assert not go and why == "nothing new since round 1"
    msg = InboxMessage(round=2, sender="seller-003", text="hello")
    assert wake_reason(rule, state, _obs(3, inbox=[msg])) == (True, "message from seller-003")
    # a thread awaiting the agent wakes it once; unchanged, it does not wake it again
    assert wake_reason(rule, state, _obs(4, threads=[_thread()]))[0]
    assert not wake_reason(rule, state, _obs(5, threads=[_thread()]))[0]
    # a counter (new price) is new
    go, why = wake_reason(rule, state, _obs(6, threads=[_thread(price=55.0)]))
    assert go and why == "thread T1 awaits your accept"
    # a thread that was the other side's move and is gone: it ended (rejected, withdrawn, expired)
    assert not wake_reason(rule, state, _obs(7, threads=[_thread(moves=("withdraw",))]))[0]
    assert wake_reason(rule, state, _obs(8)) == (True, "thread T1 ended")
    rejected = Receipt(round=8, action_type="make_offer", accepted=False, rule="funds", reason="too poor")
    assert wake_reason(rule, state, _obs(9, receipts=[rejected])) == (True, "your make_offer was rejected (funds)")
    assert not wake_reason(rule, state, _obs(10))[0]
    assert not wake_reason(rule, state, _obs(11))[0]
    go, why = wake_reason(rule, state, _obs(12))
    assert go and why.startswith("heartbeat: 3 rounds")


def test_wake_rule_watches_prices_beyond_its_threshold() -> None:
    from agents.observation import ListingInfo, MarketInfo

    def market(ask: float) -> MarketInfo:
        li = ListingInfo(id="L1", seller="seller-000", service="translation", ask_price=ask, remaining=1)
        return MarketInfo(listings=[li], min_price=1.0, max_price=200.0)

    rule, state = WakeRule(price_move=0.1), WakeState()
    # a buyer of the bilateral market has nothing to act on before the first listing
    assert wake_reason(rule, state, _obs(1)) == (False, "nothing new since never")
    assert wake_reason(rule, state, _obs(2, market=market(50.0))) == (True, "first turn")
    go, why = wake_reason(rule, state, _obs(2, market=market(40.0)))
    assert go and why == "ask/translation moved 50 -> 40"
    state = WakeState(last_turn=1, incentives={})
    go, why = wake_reason(rule, state, _obs(2, market=market(50.0)))
    assert go and why == "ask/translation appeared at 50"
    assert not wake_reason(rule, state, _obs(3, market=market(53.0)))[0]  # 6%: below the threshold
    go, why = wake_reason(rule, state, _obs(4, market=market(44.0)))
    assert go and why == "ask/translation moved 50 -> 44"
    # a buyer whose demand is met watches no ask
    done = Private(values={"translation": 80.0}, demand=0)
    assert not wake_reason(rule, state, _obs(5, market=market(20.0), private=done))[0]
    # every_round: a turn each round whatever happened; in a sub-step only events count
    s2 = WakeState()
    assert wake_reason(EVERY_ROUND, s2, _obs(1))[0] and wake_reason(EVERY_ROUND, s2, _obs(2))[0]
    assert not wake_reason(EVERY_ROUND, s2, _obs(2), substep=True)[0]


def _scenario(substeps: int, rounds: int = 6, **market) -> dict:
    return {
        "name": "one-deal",
        "seed": 3,
        "rounds": rounds,
        "market": {"min_price": 1.0, "max_price": 200.0, "max_substeps": substeps, **market},
        "population": [
            {"agent": "budget_buyer", "n": 1, "role": "buyer", "service": "translation", "budget": 400, "value": 150},
            {"agent": "markup_seller", "n": 1, "role": "seller", "service": "translation", "cost": 40, "capacity": 1},
        ],
    }


def _settled_round(result) -> int:
    return next(h["round"] for h in result.history if h["transactions"])


def test_a_deal_completes_in_one_round_with_substeps() -> None:
    plain = Session(parse_scenario(_scenario(0))).run()
    sub = Session(parse_scenario(_scenario(3))).run()
    assert plain.summary["transactions"] == sub.summary["transactions"] == 1
    # post (round 1), then offer, accept, deliver, report: one round each, or one round with sub-steps
    assert _settled_round(plain) == 5
    assert _settled_round(sub) == 2
    r2 = sub.history[1]
    assert r2["substeps"] == 3 and r2["actions"] == 4
    assert sub.summary["volume"] == plain.summary["volume"]


def test_substeps_are_bounded_per_round() -> None:
    one = Session(parse_scenario(_scenario(1))).run()
    assert max(h["substeps"] for h in one.history) == 1
    assert _settled_round(one) == 3  # offer + accept in round 2; deliver + report in round 3


def _llm_scenario(substeps: int, rounds: int = 6) -> dict:
    llm = {"model": "scripted/auto"}
    return {
        "name": "llm-turns",
        "seed": 5,
        "rounds": rounds,
        "market": {"min_price": 1.0, "max_price": 200.0, "max_substeps": substeps},
        "population": [
            {
                "agent": "llm",
                "n": 3,
                "role": "buyer",
                "service": "translation",
                "budget": 400,
                "value": [60, 160],
                "demand": 1,
                "params": {**llm, "persona": "bargain_hunter"},
            },
            {
                "agent": "llm",
                "n": 6,
                "role": "seller",
                "service": "translation",
                "cost": [20, 80],
                "capacity": 2,
                "params": {**llm, "persona": "honest_seller"},
            },
            {"agent": "zi_c", "n": 2, "role": "buyer", "service": "translation", "budget": 300, "value": [40, 140]},
        ],
    }


def test_llm_waits_are_recorded_with_zero_tokens_and_replay_identically(tmp_path) -> None:
    db = str(tmp_path / "turns.db")
    result = Session(parse_scenario(_llm_scenario(0)), store=db).run()
    run_id, store = result.run_id, Store(db)
    waits = sum(h["waits"] for h in result.history)
    assert waits > 0 and result.summary["transactions"] > 0
    turns = read.spans(store, run_id, operation="invoke_agent", limit=None)
    wait_spans = [s for s in turns if s.attrs().get("agora.agent.turn") == "wait"]
    assert len(wait_spans) == waits
    for s in wait_spans:
        a = s.attrs()
        assert a["gen_ai.usage.input_tokens"] == 0 and a["agora.agent.actions"] == 0
        assert a["agora.agent.turn.reason"].startswith("nothing new since")
        assert s.agent_id.startswith(("buyer-", "seller-")) and s.agent_id not in ("buyer-003", "buyer-004")
    # the scripted zi_c buyers (every round by default) never wait
    assert not [s for s in wait_spans if s.agent_id in ("buyer-003", "buyer-004")]
    waited = {(s.round, s.agent_id) for s in wait_spans}
    with sqlite3.connect(db) as con:
        called = {(r, a) for r, a in con.execute("select round, agent_id from llm_calls where run_id=?", (run_id,))}
    assert waited and not (waited & called), "a wait makes no model call"
    report = replay(run_id, store)
    assert report.identical, str(report)


def test_llm_run_with_substeps_replays_identically(tmp_path) -> None:
    db = str(tmp_path / "sub.db")
    result = Session(parse_scenario(_llm_scenario(3)), store=db).run()
    assert sum(h["substeps"] for h in result.history) > 0 and result.summary["transactions"] > 0
    with sqlite3.connect(db) as con:  # an agent called in a sub-step goes on numbering the round's calls
        rows = con.execute("select count(*), count(distinct round || agent_id || seq) from llm_calls").fetchone()
    assert rows[0] == rows[1] > 0
    report = replay(result.run_id, Store(db))
    assert report.identical, str(report)


def test_same_seed_same_turns_and_actions_with_substeps() -> None:
    def play() -> tuple[list, list]:
        s = Session(parse_scenario(_llm_scenario(3, rounds=5)))
        records: list = []
        s.hooks.round_end.append(
            lambda sess, log: records.extend((log.round, r.agent_id, r.payload, r.verdict.rule) for r in log.records)
        )
        res = s.run()
        return records, [(h["turns"], h["waits"], h["substeps"]) for h in res.history]

    a, b = play(), play()
    assert a[0] and a == b


def test_books_balance_with_substeps_on_the_services_market() -> None:
    from sandbox import load_scenario

    sc = load_scenario("services")
    sc.market.max_substeps = 3
    s = Session(sc, rounds=12)
    res = s.run()  # the ledger is checked every round (a failure raises LedgerError)
    assert res.summary["transactions"] > 0
    assert sum(s.ledger.balances.values()) == 0
    assert max(h["substeps"] for h in res.history) >= 1


class _Poster(Agent):
    """A scripted seller that opts in: lists once, then only answers what happens."""

    kind = "test_poster"
    wake_default = WakeRule()

    def decide(self, obs: Observation) -> list:
        self.calls = getattr(self, "calls", 0) + 1
        if obs.private.capacity:
            return [PostService(service="translation", ask_price=50.0, capacity=obs.private.capacity)]
        return []


def test_scripted_agents_choose_every_round_or_on_event() -> None:
    s = Session(rounds=6)
    (poster,) = s.spawn(_Poster, n=1, role="seller", service="translation", cost=20, capacity=1)
    (every,) = s.spawn("zi_c", n=1, role="seller", service="translation", cost=20, capacity=1)
    (opted,) = s.spawn("zi_c", n=1, role="seller", service="translation", cost=20, capacity=1, wake="on_event")
    res = s.run()
    assert s.agents[poster].calls == 1  # its first turn; nothing happened to it afterwards
    assert s.agents[every].wake.every_round and not s.agents[opted].wake.every_round
    assert sum(h["waits"] for h in res.history) == 2 * 5  # the poster and the opted-in zi_c, rounds 2-6
    assert isinstance(LLMAgent.wake_default, WakeRule) and LLMAgent.wake_default.heartbeat > 0


def test_resumed_run_with_waits_and_substeps_replays_identically(tmp_path) -> None:
    from sandbox import resume

    store = Store(str(tmp_path / "resume.db"))
    s = Session(parse_scenario(_llm_scenario(3, rounds=5)), store=store)
    s.run(rounds=2)
    result = resume(s.run_id, store)  # re-executes rounds 1-2 (the wake state is rebuilt), then goes on
    assert result.rounds == 5 and sum(h["waits"] for h in result.history) > 0
    report = replay(s.run_id, store)
    assert report.identical, str(report)
