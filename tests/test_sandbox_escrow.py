"""Escrow through accept, deliver, report, expiry and rejection, on a real market and ledger."""

from __future__ import annotations

import pytest
from helpers import act, small_market

from protocols import Accept, Deliver, MakeOffer, PostService, Reject, ReportOutcome, Withdraw
from protocols.settlement import ESCROW, EXTERNAL, TREASURY, Posting, account
from protocols.state import ThreadState
from sandbox.ledger import Ledger, LedgerError

U = 1_000_000


@pytest.fixture()
def m():
    market, protocol, policy = small_market()
    act(market, protocol, policy, PostService(service="svc", ask_price=20, capacity=2), "s1")
    return market, protocol, policy


def bal(market, who: str) -> int:
    return market.ledger.balance(account(who))


def test_accept_moves_price_into_escrow_and_report_releases_minus_fee(m) -> None:
    market, protocol, policy = m
    _, tid, _ = act(market, protocol, policy, MakeOffer(listing_id="L1", price=30), "b1")
    assert bal(market, "b1") == 100 * U  # an offer reserves nothing
    act(market, protocol, policy, Accept(thread_id=tid), "s1")
    assert bal(market, "b1") == 70 * U and market.ledger.balance(ESCROW) == 30 * U
    assert market.escrow_expected() == 30 * U
    act(market, protocol, policy, Deliver(thread_id=tid, quality=0.8), "s1")
    assert market.ledger.balance(ESCROW) == 30 * U  # delivery alone releases nothing
    _, _, deal = act(market, protocol, policy, ReportOutcome(thread_id=tid, score=0.7), "b1")
    assert deal is not None and deal.status == "settled" and deal.fee == 3 * U
    assert bal(market, "s1") == 27 * U and market.ledger.balance(TREASURY) == 3 * U
    assert market.ledger.balance(ESCROW) == 0
    assert market.threads[tid].state is ThreadState.SETTLED and market.threads[tid].score == 0.7
    market.ledger.check(ESCROW, market.escrow_expected())


def test_expiry_after_accept_refunds_and_frees_capacity(m) -> None:
    market, protocol, policy = m
    _, tid, _ = act(market, protocol, policy, MakeOffer(listing_id="L1", price=30), "b1")
    act(market, protocol, policy, Accept(thread_id=tid), "s1")
    assert market.listings["L1"].remaining == 1
    market.round += market.deadlines.delivery_rounds
    deals = market.run_deadlines(policy)
    assert [d.status for d in deals] == ["refunded"]
    assert bal(market, "b1") == 100 * U and market.ledger.balance(ESCROW) == 0
    assert market.listings["L1"].remaining == 2
    assert market.threads[tid].state is ThreadState.EXPIRED
    market.ledger.check(ESCROW, market.escrow_expected())


def test_unreported_delivery_settles_by_deadline(m) -> None:
    market, protocol, policy = m
    _, tid, _ = act(market, protocol, policy, MakeOffer(listing_id="L1", price=30), "b1")
    act(market, protocol, policy, Accept(thread_id=tid), "s1")
    act(market, protocol, policy, Deliver(thread_id=tid), "s1")
    market.round += market.deadlines.report_rounds
    deals = market.run_deadlines(policy)
    assert [d.status for d in deals] == ["settled"] and bal(market, "s1") == 27 * U


@pytest.mark.parametrize("end", ["reject", "withdraw", "expire"])
def test_threads_ending_before_acceptance_move_no_money(m, end) -> None:
    market, protocol, policy = m
    _, tid, _ = act(market, protocol, policy, MakeOffer(listing_id="L1", price=30), "b1")
    before = dict(market.ledger.balances)
    if end == "reject":
        assert act(market, protocol, policy, Reject(thread_id=tid), "s1")[0].accepted
    elif end == "withdraw":
        assert act(market, protocol, policy, Withdraw(thread_id=tid), "b1")[0].accepted
    else:
        market.round += market.deadlines.offer_rounds
        assert market.run_deadlines(policy) == []
    assert market.ledger.balances == before
    assert tid not in market.live and market.threads[tid].state.value in ("rejected", "withdrawn", "expired")


def test_ledger_refuses_overdraft_and_bad_amounts() -> None:
    ledger = Ledger()
    ledger.post(Posting(EXTERNAL, "agent:a", 10, "endowment"), 0)
    with pytest.raises(LedgerError):
        ledger.post(Posting("agent:a", "agent:b", 11, "transfer"), 0)
    for bad in (0, -5, 1.5):
        with pytest.raises(LedgerError):
            ledger.post(Posting("agent:a", "agent:b", bad, "transfer"), 0)  # type: ignore[arg-type]
    ledger.check()
    assert ledger.money_supply == 10


def test_check_catches_escrow_mismatch_and_tampering() -> None:
    ledger = Ledger()
    ledger.post(Posting(EXTERNAL, "agent:a", 10, "endowment"), 0)
    ledger.post(Posting("agent:a", ESCROW, 4, "escrow"), 0)
    ledger.check(ESCROW, 4)
    with pytest.raises(LedgerError):
        ledger.check(ESCROW, 3)
    ledger.balances["agent:a"] += 1  # money from nowhere
    with pytest.raises(LedgerError):
        ledger.check()
