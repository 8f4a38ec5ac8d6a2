"""The record's quick forms: the action JSON made without pydantic is pydantic's, byte for byte, for any
values; the actions digest and the ledger digest hashed in one piece are the digests hashed line by line."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocols.actions import PlaceOrder, SetPrice
from protocols.settlement import EXTERNAL, Posting
from protocols.trusted import trusted
from protocols.verdict import Verdict
from sandbox import record
from sandbox.ledger import Ledger
from sandbox.record import ActionRecord, RoundLog, action_json, actions_digest

texts = st.text(max_size=8) | st.sampled_from(["buy", "sell", "widget", 'a"b', "a\\b", "é", "\x7f", "\n", ""])
prices = st.floats(allow_nan=True, allow_infinity=True) | st.integers(-(10**20), 10**20) | st.just(-0.0)
units = st.none() | st.integers(-(10**20), 10**20) | st.booleans() | st.floats(allow_nan=False)


@pytest.mark.filterwarnings("ignore::UserWarning")  # pydantic warns of the unvalidated values it is given
@settings(max_examples=400, deadline=None)
@given(texts, texts, prices, units, st.none() | texts)
def test_a_trusted_order_is_written_as_pydantic_writes_it(side, service, price, unit, sender) -> None:
    order = trusted(PlaceOrder, sender=sender, type="place_order", side=side, service=service, price=price, unit=unit)
    assert action_json(order) == order.model_dump_json(exclude_none=True)


@settings(max_examples=200, deadline=None)
@given(st.floats(min_value=1e-4, max_value=1e16, allow_nan=False) | st.floats(min_value=-1e16, max_value=-1e-4))
def test_a_validated_order_of_any_decimal_price_takes_the_quick_way_and_agrees(price) -> None:
    order = PlaceOrder(side="buy", service="widget", price=price, unit=3)
    assert action_json(order) == order.model_dump_json(exclude_none=True)
    assert action_json(PlaceOrder(side="sell", service="w", price=price)) == PlaceOrder(
        side="sell", service="w", price=price
    ).model_dump_json(exclude_none=True)


def test_other_actions_and_odd_values_go_to_pydantic() -> None:
    for action in (
        SetPrice(service="w", price=3.5),
        PlaceOrder(sender="buyer-1", side="buy", service="w", price=2.0),
        trusted(PlaceOrder, type="other", side="buy", service="w", price=2.0, unit=None),
        trusted(PlaceOrder, side="buy", service="w", price=1e-7),
    ):
        assert action_json(action) == action.model_dump_json(exclude_none=True)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.booleans(), texts, texts), max_size=6))
def test_the_actions_digest_is_the_hash_of_the_accepted_lines(rows) -> None:
    records = [ActionRecord(i, aid, "t", payload, Verdict(ok, "r", "")) for i, (ok, aid, payload) in enumerate(rows)]
    h = hashlib.sha256()
    for r in records:
        if r.verdict.accepted:
            h.update(f"{r.seq}|{r.agent_id}|{r.payload}\n".encode())
    assert actions_digest(RoundLog(1, records=records)) == h.hexdigest()


def test_the_order_heads_kept_are_bounded_and_a_head_made_past_the_bound_is_the_same(monkeypatch) -> None:
    monkeypatch.setattr(record, "_ORDER_HEADS", {})
    monkeypatch.setattr(record, "_HEADS_KEPT", 3)
    orders = [PlaceOrder(side=side, service=f"s{i}", price=1.5, unit=i) for i in range(5) for side in ("buy", "sell")]
    for _ in range(2):  # the second pass reads the heads kept
        for order in orders:
            assert action_json(order) == order.model_dump_json(exclude_none=True)
    assert len(record._ORDER_HEADS) == 3


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from(["a", "b", "é", "acct:z", "c;d", "e=f"]), st.integers(1, 10**12)), max_size=12)
)
def test_the_ledger_digest_is_the_hash_of_the_balances_lines(moves) -> None:
    ledger = Ledger()
    for dest, amount in moves:
        ledger.post(Posting(EXTERNAL, dest, amount, "mint"), 1)
    h = hashlib.sha256()
    for account in sorted(ledger.balances):
        h.update(f"{account}={ledger.balances[account]};".encode())
    assert ledger.digest() == h.hexdigest()
