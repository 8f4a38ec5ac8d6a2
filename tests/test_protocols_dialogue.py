"""Every dialogue transition, legal and illegal, and the deadlines that end threads."""

from __future__ import annotations

import itertools

import pytest

from protocols.dialogue import Deadlines, deadline, move
from protocols.state import Thread, ThreadState
from protocols.verdict import Rule

S = ThreadState
KINDS = [
    "request_quote",
    "make_offer",
    "counter",
    "accept",
    "reject",
    "withdraw",
    "deliver",
    "report_outcome",
    "message",
]

# Written out by hand (not derived from TRANSITIONS): state -> {kind: (who may, next state)}.
# "proposer" is whoever made the standing offer.
EXPECTED = {
    None: {"request_quote": ("buyer", S.QUOTE_REQUESTED), "make_offer": ("buyer", S.OFFERED)},
    S.QUOTE_REQUESTED: {
        "make_offer": ("seller", S.OFFERED),
        "reject": ("seller", S.REJECTED),
        "withdraw": ("buyer", S.WITHDRAWN),
        "message": ("both", None),
    },
    S.OFFERED: {
        "counter": ("responder", S.OFFERED),
        "accept": ("responder", S.ACCEPTED),
        "reject": ("responder", S.REJECTED),
        "withdraw": ("proposer", S.WITHDRAWN),
        "message": ("both", None),
    },
    S.ACCEPTED: {"deliver": ("seller", S.DELIVERED), "message": ("both", None)},
    S.DELIVERED: {"report_outcome": ("buyer", S.SETTLED), "message": ("both", None)},
    S.SETTLED: {},
    S.REJECTED: {},
    S.WITHDRAWN: {},
    S.EXPIRED: {},
}


def _thread(state: ThreadState, proposer: str | None = "buyer") -> Thread:
    return Thread("T1", "L1", "buyer", "seller", "svc", state, 1, 1, price_micros=1, proposer=proposer)


def _may(who: str, sender: str, proposer: str | None) -> bool:
    if who == "both":
        return sender in ("buyer", "seller")
    if who == "proposer":
        return sender == proposer
    if who == "responder":
        return sender in ("buyer", "seller") and sender != proposer
    return sender == who


CASES = [
    (state, kind, sender, proposer)
    for state in EXPECTED
    for kind in KINDS
    for sender in ("buyer", "seller", "stranger")
    for proposer in (("buyer", "seller") if state is S.OFFERED else ("buyer",))
]


@pytest.mark.parametrize("state,kind,sender,proposer", CASES)
def test_every_transition(state, kind, sender, proposer) -> None:
    thread = None if state is None else _thread(state, proposer)
    verdict, nxt = move(thread, kind, sender)
    rule = EXPECTED[state].get(kind)
    legal = rule is not None and (state is None or _may(rule[0], sender, proposer))
    assert verdict.accepted == legal, (state, kind, sender, verdict)
    if legal:
        assert nxt == rule[1]
    else:
        assert verdict.reason, "a rejection must say why"
        if thread is not None and sender == "stranger" and rule is not None:
            assert verdict.rule == Rule.NOT_PARTICIPANT


def test_illegal_move_reason_lists_what_is_allowed() -> None:
    verdict, _ = move(_thread(S.ACCEPTED), "accept", "buyer")
    assert verdict.rule == Rule.DIALOGUE
    assert "deliver" in verdict.reason and "accepted" in verdict.reason


def test_ended_thread_says_so() -> None:
    verdict, _ = move(_thread(S.SETTLED), "deliver", "seller")
    assert "ended" in verdict.reason


def test_buyer_cannot_deliver_on_sellers_listing() -> None:
    verdict, _ = move(_thread(S.ACCEPTED), "deliver", "buyer")
    assert verdict.rule == Rule.OWN_LISTING


@pytest.mark.parametrize(
    "state,since,limit_field,expected",
    [
        (S.OFFERED, 2, "offer_rounds", None),
        (S.OFFERED, 3, "offer_rounds", S.EXPIRED),
        (S.QUOTE_REQUESTED, 3, "offer_rounds", S.EXPIRED),
        (S.ACCEPTED, 2, "delivery_rounds", None),
        (S.ACCEPTED, 3, "delivery_rounds", S.EXPIRED),
        (S.DELIVERED, 3, "report_rounds", S.SETTLED),
        (S.SETTLED, 30, "report_rounds", None),
    ],
)
def test_deadlines(state, since, limit_field, expected) -> None:
    t = _thread(state)
    t.last_move_round = t.accepted_round = t.delivered_round = 10
    assert deadline(t, 10 + since, Deadlines()) == expected


def test_all_kinds_covered() -> None:
    from protocols.dialogue import TRANSITIONS

    listed = {(s, k) for s, k in TRANSITIONS}
    expected = {(s, k) for s, moves in EXPECTED.items() for k in moves}
    assert listed == expected
    assert len(list(itertools.product(EXPECTED, KINDS))) == 9 * 9
