"""What a round leaves behind: every attempted action, every deal, and the rows for the store.

``RoundLog`` is filled while the round is applied and turned into one ``RoundBatch`` at the
end of the round, so the store sees one transaction per round.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from protocols.actions import PlaceOrder
from protocols.state import Thread
from protocols.verdict import Verdict
from sandbox.ledger import Entry
from traces.store import RoundBatch


@dataclass(slots=True)
class ActionRecord:
    """One submitted action (or what an agent returned that was not one) and its verdict."""

    seq: int
    agent_id: str
    action_type: str
    payload: str
    verdict: Verdict
    thread_id: str | None = None
    span_id: str | None = None


_PAYLOAD = ActionRecord.__dict__["payload"]  # the slot's descriptor
_SET_PAYLOAD = _PAYLOAD.__set__


class LazyActionRecord(ActionRecord):
    """An ``ActionRecord`` of a built-in action whose ``payload`` (the action's JSON) is made when first
    read: a run that stores nothing and traces nothing never reads it. Built-in actions are frozen
    models of plain values, so the JSON made later is the JSON made at submission."""

    __slots__ = ("action",)

    def __init__(self, seq: int, agent_id: str, action_type: str, action: Any, verdict: Verdict, thread_id: str | None):
        self.action = action  # the fields set here as ``ActionRecord.__init__`` sets them (one call less per order)
        self.seq = seq
        self.agent_id = agent_id
        self.action_type = action_type
        _SET_PAYLOAD(self, None)
        self.verdict = verdict
        self.thread_id = thread_id
        self.span_id = None

    @property
    def payload(self) -> str:
        found: str | None = _PAYLOAD.__get__(self)
        if found is None:
            found = action_json(self.action)
            _PAYLOAD.__set__(self, found)
        return found

    @payload.setter
    def payload(self, value: str | None) -> None:
        _PAYLOAD.__set__(self, value)

    def __eq__(self, other: object) -> bool:  # equal to a plain record with the same fields
        if not isinstance(other, ActionRecord):
            return NotImplemented
        return _fields(self) == _fields(other)

    __hash__ = None  # type: ignore[assignment]  # as the dataclass's


_ORDER_HEADS: dict[tuple[str, str], str] = {}  # (side, service) -> the order's JSON up to its price
_HEADS_KEPT = 256  # an agent may name any service: at most this many heads are kept


def action_json(action: Any) -> str:
    """``action.model_dump_json(exclude_none=True)``: the JSON the record keeps of an action.

    A ``PlaceOrder`` of plain values (every order of the double auction) is written here, byte for byte
    what pydantic writes (``tests/test_record_action_json.py``), in a fraction of its time: no sender,
    its strings printable ASCII with no quote or backslash (written as they are by both), its price a
    float both write in decimal as Python's ``repr`` does (zero, or 1e-4 <= |price| < 1e16), its unit an
    int or None. The JSON up to the price is made once per side and service (``_ORDER_HEADS``). Any
    other action or value goes to pydantic.
    """
    if type(action) is PlaceOrder:
        d = action.__dict__
        price, unit = d.get("price"), d.get("unit")
        if (
            type(price) is float
            and (1e-4 <= price < 1e16 or -1e16 < price <= -1e-4 or price == 0)
            and (unit is None or type(unit) is int)
            and d.get("sender", "") is None
            and d.get("type") == "place_order"
        ):
            side, service = d.get("side"), d.get("service")
            if type(side) is str and type(service) is str:
                head = _ORDER_HEADS.get((side, service))
                if head is None and _plain(side) and _plain(service):
                    head = f'{{"type":"place_order","side":"{side}","service":"{service}","price":'
                    if len(_ORDER_HEADS) < _HEADS_KEPT:
                        _ORDER_HEADS[side, service] = head
                if head is not None:
                    return head + repr(price) + ("}" if unit is None else f',"unit":{unit}}}')
    return str(action.model_dump_json(exclude_none=True))


def _plain(s: Any) -> bool:
    """A string JSON writes as it is, between quotes: printable ASCII, no quote, no backslash."""
    return type(s) is str and s.isascii() and s.isprintable() and '"' not in s and "\\" not in s


def _fields(r: ActionRecord) -> tuple[Any, ...]:
    return (r.seq, r.agent_id, r.action_type, r.payload, r.verdict, r.thread_id, r.span_id)


@dataclass(slots=True)
class DealRecord:
    """A deal that moved money, with the private value and cost that define its surplus."""

    tx_id: int
    thread: Thread
    status: str
    price: int
    fee: int
    value: int
    cost: int
    round: int
    trace_id: str | None = None  # trace of the negotiation's first span, when traced


@dataclass
class RoundLog:
    """Everything that happened in one round, in application order."""

    round: int
    records: list[ActionRecord] = field(default_factory=list)
    deals: list[DealRecord] = field(default_factory=list)
    fines: int = 0
    batch: RoundBatch = field(default_factory=RoundBatch)
    facts: dict[str, Any] = field(default_factory=dict)  # what the mechanism reports (sandbox.mechanisms)
    turns: int = 0  # agent turns taken (every step of the round)
    waits: int = 0  # agents that waited at the round's start: nothing new for them (agents.wake)
    substeps: int = 0  # sub-steps played after the round's first step


def action_rows(run_id: str, log: RoundLog) -> list[dict[str, Any]]:
    """``actions`` table rows for a round."""
    return [
        {
            "run_id": run_id,
            "round": log.round,
            "seq": r.seq,
            "agent_id": r.agent_id,
            "action_type": r.action_type,
            "thread_id": r.thread_id,
            "payload": r.payload,
            "accepted": r.verdict.accepted,
            "rule": r.verdict.rule,
            "reason": r.verdict.reason,
            "span_id": r.span_id,
        }
        for r in log.records
    ]


ACTION_COLUMNS = (
    "run_id",
    "round",
    "seq",
    "agent_id",
    "action_type",
    "thread_id",
    "payload",
    "accepted",
    "rule",
    "reason",
    "span_id",
)  # the ``actions`` table's columns, in its order


def action_tuples(run_id: str, log: RoundLog) -> list[tuple[Any, ...]]:
    """``action_rows`` as tuples of ``ACTION_COLUMNS``: the form the store writes (no dict per action).

    ``accepted`` is 1 or 0, as SQLAlchemy's ``Boolean`` hands it to SQLite (a ``bool`` would take the
    driver's slow adapter lookup); PostgreSQL gets it back as a boolean through SQLAlchemy.
    """
    rnd = log.round
    return [
        (
            run_id,
            rnd,
            r.seq,
            r.agent_id,
            r.action_type,
            r.thread_id,
            r.payload,
            1 if (v := r.verdict).accepted else 0,
            v.rule,
            v.reason,
            r.span_id,
        )
        for r in log.records
    ]


def transaction_rows(run_id: str, deals: Iterable[DealRecord]) -> list[dict[str, Any]]:
    """``transactions`` table rows."""
    return [
        {
            "run_id": run_id,
            "tx_id": d.tx_id,
            "status": d.status,
            "thread_id": d.thread.id,
            "listing_id": d.thread.listing_id,
            "service": d.thread.service,
            "buyer": d.thread.buyer,
            "seller": d.thread.seller,
            "price": d.price,
            "fee": d.fee,
            "value": d.value,
            "cost": d.cost,
            "quality": d.thread.quality,
            "score": d.thread.score,
            "opened_round": d.thread.opened_round,
            "accepted_round": d.thread.accepted_round,
            "settled_round": d.round,
            "span_id": d.thread.span_ids[0] if d.thread.span_ids else None,
            "trace_id": d.trace_id,
        }
        for d in deals
    ]


def ledger_rows(run_id: str, entries: Iterable[Entry]) -> list[dict[str, Any]]:
    """``ledger_entries`` table rows."""
    return [
        {
            "run_id": run_id,
            "seq": e.seq,
            "round": e.round,
            "source": e.source,
            "dest": e.dest,
            "amount": e.amount,
            "kind": e.kind,
            "ref": e.ref,
        }
        for e in entries
    ]


LEDGER_COLUMNS = ("run_id", "seq", "round", "source", "dest", "amount", "kind", "ref")  # ``ledger_entries``, in order


def ledger_tuples(run_id: str, entries: Iterable[Entry]) -> list[tuple[Any, ...]]:
    """``ledger_rows`` as tuples of ``LEDGER_COLUMNS`` (the store's form)."""
    return [(run_id, e.seq, e.round, e.source, e.dest, e.amount, e.kind, e.ref) for e in entries]


def actions_digest(log: RoundLog) -> str:
    """A hash of the round's accepted actions in order, for replay to compare."""
    text = "".join([f"{r.seq}|{r.agent_id}|{r.payload}\n" for r in log.records if r.verdict.accepted])
    return hashlib.sha256(text.encode()).hexdigest()  # one update of the lines joined: the same hash
