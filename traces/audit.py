"""Read queries behind the audit views: filtered pages of transactions, a negotiation thread,
an agent's balance over time, who trades with whom, policy versions and run totals.

Every query is an indexed SQLAlchemy expression bounded by ``limit``, never string-built SQL,
so a page stays fast on a run with millions of records.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Index, and_, case, func, inspect, or_
from sqlmodel import Session, col, select

from traces.llm_calls import LLMCallRow
from traces.schema import ActionRow, LedgerEntryRow, PolicyVersionRow, RoundRow, TransactionRow
from traces.store import Store

# Indexes the audit views need beyond the core ones: a thread's actions, an agent's postings
# (covering: account, round and amount, so balances and the agents overview never touch the
# table), deals by party, by pair and by round (covering), and rejections by agent. Measured on
# a run with 100,000 deals (benchmarks/bench_ui_pages.py): balances at a round 1.66 s -> 0.29 s,
# trade network 0.69 s -> 0.10 s, prices by round 0.31 s -> 0.09 s, agents overview 2.9 s -> 0.4 s.
_A = ActionRow.__table__.c  # type: ignore[attr-defined]  # SQLModel sets __table__, undeclared
_L = LedgerEntryRow.__table__.c  # type: ignore[attr-defined]  # (as above)
_T = TransactionRow.__table__.c  # type: ignore[attr-defined]  # (as above)
_C = LLMCallRow.__table__.c  # type: ignore[attr-defined]  # (as above)
AUDIT_INDEXES = (
    Index(  # partial: only actions in a negotiation (orders on a book, listings have no thread)
        "ix_actions_run_thread",
        _A.run_id,
        _A.thread_id,
        sqlite_where=_A.thread_id.is_not(None),
        postgresql_where=_A.thread_id.is_not(None),
    ),
    Index("ix_actions_run_accepted_agent", _A.run_id, _A.accepted, _A.agent_id),
    Index("ix_ledger_run_source_round_amount", _L.run_id, _L.source, _L.round, _L.amount),
    Index("ix_ledger_run_dest_round_amount", _L.run_id, _L.dest, _L.round, _L.amount),
    Index("ix_tx_run_buyer", _T.run_id, _T.buyer),
    Index("ix_tx_run_seller", _T.run_id, _T.seller),
    Index("ix_tx_run_status_pair", _T.run_id, _T.status, _T.buyer, _T.seller, _T.price),
    Index("ix_tx_run_status_round_service", _T.run_id, _T.status, _T.settled_round, _T.service, _T.price),
    Index(
        "ix_llm_calls_run_agent",
        _C.run_id,
        _C.agent_id,
        _C.round,
    ),
)


def ensure_indexes(store: Store) -> None:
    """Create the audit indexes on a store made before they existed (new stores get them anyway).

    On SQLite, also gather the planner's statistics (``ANALYZE``) when the store has none or an
    index was just made: without them SQLite picks a poor index for a deal's trace on a big run
    (measured on a run with a million spans: 0.35 s before, 0.01 s after; ANALYZE itself took
    2 s there). PostgreSQL keeps its statistics itself.
    """
    inspector = inspect(store.engine)
    have = {
        ix["name"]
        for t in {i.table.name for i in AUDIT_INDEXES if i.table is not None}
        for ix in inspector.get_indexes(t)
    }
    created = [index for index in AUDIT_INDEXES if index.name not in have]
    for index in created:
        index.create(store.engine, checkfirst=True)
    if store.is_sqlite and created and have:  # an existing store gained indexes: fresh statistics
        with store.engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE")
    elif store.is_sqlite:
        with store.engine.begin() as conn:
            has_stats = conn.exec_driver_sql(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'sqlite_stat1'"
            ).first()
            if has_stats is None:
                conn.exec_driver_sql("ANALYZE")


@dataclass(frozen=True)
class TxFilter:
    """What the transactions audit table is narrowed to; ``None`` means any."""

    status: str | None = None
    service: str | None = None
    agent: str | None = None
    round_min: int | None = None
    round_max: int | None = None
    price_min: int | None = None
    price_max: int | None = None


def _tx_where(run_id: str, f: TxFilter) -> list[Any]:
    t = TransactionRow
    conds: list[Any] = [t.run_id == run_id]
    if f.status:
        conds.append(t.status == f.status)
    if f.service:
        conds.append(t.service == f.service)
    if f.agent:
        conds.append((t.buyer == f.agent) | (t.seller == f.agent))
    if f.round_min is not None:
        conds.append(t.settled_round >= f.round_min)
    if f.round_max is not None:
        conds.append(t.settled_round <= f.round_max)
    if f.price_min is not None:
        conds.append(t.price >= f.price_min)
    if f.price_max is not None:
        conds.append(t.price <= f.price_max)
    return conds


def find_transactions(
    store: Store, run_id: str, f: TxFilter = TxFilter(), *, offset: int = 0, limit: int = 50
) -> Sequence[TransactionRow]:
    """One page of a run's transactions matching ``f``, in settlement order."""
    q = select(TransactionRow).where(*_tx_where(run_id, f)).order_by(col(TransactionRow.tx_id))
    with Session(store.engine) as s:
        return s.exec(q.offset(offset).limit(limit)).all()


def count_transactions(store: Store, run_id: str, f: TxFilter = TxFilter()) -> int:
    """How many of a run's transactions match ``f``."""
    with Session(store.engine) as s:
        return int(s.exec(select(func.count()).select_from(TransactionRow).where(*_tx_where(run_id, f))).one())


def services(store: Store, run_id: str) -> list[str]:
    """The services a run traded."""
    with Session(store.engine) as s:
        q = select(TransactionRow.service).where(TransactionRow.run_id == run_id).distinct()
        return sorted(s.exec(q).all())


def transaction(store: Store, run_id: str, tx_id: int) -> TransactionRow | None:
    """One transaction by id."""
    with Session(store.engine) as s:
        return s.get(TransactionRow, (run_id, tx_id))


def thread_actions(store: Store, run_id: str, thread_id: str, limit: int = 500) -> Sequence[ActionRow]:
    """The negotiation behind a deal: every action submitted on its thread, in order."""
    q = (
        select(ActionRow)
        .where(ActionRow.run_id == run_id, ActionRow.thread_id == thread_id)
        .order_by(col(ActionRow.round), col(ActionRow.seq))
        .limit(limit)
    )
    with Session(store.engine) as s:
        return s.exec(q).all()


def balance_changes(store: Store, run_id: str, account: str) -> list[tuple[int, int]]:
    """Net money into ``account`` per round (micro-units), rounds with movement only."""
    e = LedgerEntryRow
    signed = case((col(e.dest) == account, e.amount), else_=-col(e.amount))
    q = (
        select(e.round, func.sum(signed))
        .where(e.run_id == run_id, (e.dest == account) | (e.source == account))
        .group_by(col(e.round))
        .order_by(col(e.round))
    )
    with Session(store.engine) as s:
        return [(int(r), int(v)) for r, v in s.exec(q).all()]


def violations(store: Store, run_id: str, agent_id: str) -> list[tuple[str, int]]:
    """An agent's rejected actions counted by the rule that rejected them."""
    a = ActionRow
    q = (
        select(a.rule, func.count())
        .where(a.run_id == run_id, a.agent_id == agent_id, col(a.accepted).is_(False))
        .group_by(col(a.rule))
        .order_by(func.count().desc())
    )
    with Session(store.engine) as s:
        return [(str(r), int(n)) for r, n in s.exec(q).all()]


def trade_pairs(store: Store, run_id: str, limit: int = 500) -> list[tuple[str, str, int, int]]:
    """Who trades with whom: (buyer, seller, deals, volume) of settled deals, biggest first."""
    t = TransactionRow
    q = (
        select(t.buyer, t.seller, func.count(), func.sum(t.price))
        .where(t.run_id == run_id, t.status == "settled")
        .group_by(col(t.buyer), col(t.seller))
        .order_by(func.sum(t.price).desc())
        .limit(limit)
    )
    with Session(store.engine) as s:
        return [(b, se, int(n), int(v)) for b, se, n, v in s.exec(q).all()]


def policy_versions(store: Store, run_id: str) -> Sequence[PolicyVersionRow]:
    """Every policy version of a run, oldest first."""
    q = select(PolicyVersionRow).where(PolicyVersionRow.run_id == run_id).order_by(col(PolicyVersionRow.version))
    with Session(store.engine) as s:
        return s.exec(q).all()


def round_totals(store: Store, run_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    """Per run: rounds recorded, transactions, volume and surplus summed, and the last efficiency."""
    ids = list(run_ids)
    if not ids:
        return {}
    r = RoundRow
    q = (
        select(  # type: ignore[call-overload]  # sqlmodel types select() for up to 4 columns
            r.run_id, func.count(), func.sum(r.n_tx), func.sum(r.volume), func.sum(r.surplus), func.max(r.round)
        )
        .where(col(r.run_id).in_(ids))
        .group_by(r.run_id)
    )
    out: dict[str, dict[str, Any]] = {}
    with Session(store.engine) as s:
        for run_id, n, n_tx, volume, surplus, last in s.exec(q).all():
            out[run_id] = {
                "rounds": int(n),
                "transactions": int(n_tx or 0),
                "volume": int(volume or 0),
                "surplus": int(surplus or 0),
                "last_round": int(last or 0),
            }
        last_round = select(r.run_id, func.max(r.round).label("last")).where(col(r.run_id).in_(ids)).group_by(r.run_id)
        sub = last_round.subquery()
        eff = select(r.run_id, r.efficiency).join(sub, (col(r.run_id) == sub.c.run_id) & (col(r.round) == sub.c.last))
        for run_id, value in s.exec(eff).all():
            out[run_id]["efficiency"] = value
    return out


def rounds_window(store: Store, run_id: str, last: int | None = None) -> Sequence[RoundRow]:
    """A run's per-round rows, the most recent ``last`` of them when given, in round order."""
    q = select(RoundRow).where(RoundRow.run_id == run_id)
    if last is not None:
        q = q.order_by(col(RoundRow.round).desc()).limit(last)
        with Session(store.engine) as s:
            return list(reversed(s.exec(q).all()))
    with Session(store.engine) as s:
        return s.exec(q.order_by(col(RoundRow.round))).all()


def prices_by_round(store: Store, run_id: str) -> list[tuple[int, str, int, float]]:
    """Settled deals per round and service: (round, service, deals, mean price in micro-units)."""
    t = TransactionRow
    q = (
        select(t.settled_round, t.service, func.count(), func.avg(t.price))
        .where(t.run_id == run_id, t.status == "settled")
        .group_by(col(t.settled_round), col(t.service))
        .order_by(col(t.settled_round), col(t.service))
    )
    with Session(store.engine) as s:
        return [(int(r), str(sv), int(n), float(p)) for r, sv, n, p in s.exec(q).all()]


def balances_at(store: Store, run_id: str, round_: int) -> dict[str, int]:
    """Every account's balance (micro-units) at the end of ``round_``."""
    e = LedgerEntryRow
    with Session(store.engine) as s:
        into = s.exec(
            select(e.dest, func.sum(e.amount)).where(e.run_id == run_id, e.round <= round_).group_by(e.dest)
        ).all()
        out = s.exec(
            select(e.source, func.sum(e.amount)).where(e.run_id == run_id, e.round <= round_).group_by(e.source)
        ).all()
    balances: dict[str, int] = {}
    for account, amount in into:
        balances[account] = balances.get(account, 0) + int(amount)
    for account, amount in out:
        balances[account] = balances.get(account, 0) - int(amount)
    return balances


def deals_settled_in(store: Store, run_id: str, round_: int, limit: int = 500) -> Sequence[TransactionRow]:
    """Deals that settled or were refunded in one round."""
    t = TransactionRow
    q = select(t).where(t.run_id == run_id, t.settled_round == round_).order_by(col(t.tx_id)).limit(limit)
    with Session(store.engine) as s:
        return s.exec(q).all()


def records(
    store: Store, run_id: str, refs: Sequence[str], limit: int = 50
) -> tuple[list[ActionRow], list[TransactionRow]]:
    """The records evidence points to: ``action:<round>/<seq>`` and ``tx:<id>`` ids (others ignored)."""
    keys: list[tuple[int, int]] = []
    txs: list[int] = []
    for ref in list(refs)[:limit]:
        kind, _, rest = ref.partition(":")
        try:
            if kind == "action":
                r, _, q = rest.partition("/")
                keys.append((int(r), int(q)))
            elif kind == "tx":
                txs.append(int(rest))
        except ValueError:
            continue
    acts: list[ActionRow] = []
    deals: list[TransactionRow] = []
    with Session(store.engine) as s:
        if keys:
            cond = or_(*(and_(col(ActionRow.round) == r, col(ActionRow.seq) == q) for r, q in keys))
            acts = list(
                s.exec(
                    select(ActionRow)
                    .where(ActionRow.run_id == run_id, cond)
                    .order_by(col(ActionRow.round), col(ActionRow.seq))
                ).all()
            )
        if txs:
            q2 = select(TransactionRow).where(TransactionRow.run_id == run_id, col(TransactionRow.tx_id).in_(txs))
            deals = list(s.exec(q2.order_by(col(TransactionRow.tx_id))).all())
    return acts, deals


def llm_calls_of(
    store: Store,
    run_id: str,
    agents: Sequence[str],
    rounds: Sequence[int] | None = None,
    *,
    offset: int = 0,
    limit: int = 100,
) -> Sequence[LLMCallRow]:
    """Model calls of some agents (optionally in some rounds), in order: one page."""
    c = LLMCallRow
    q = select(c).where(c.run_id == run_id, col(c.agent_id).in_(list(agents)))
    if rounds is not None:
        q = q.where(col(c.round).in_(list(rounds)))
    q = q.order_by(col(c.round), col(c.agent_id), col(c.seq)).offset(offset).limit(limit)
    with Session(store.engine) as s:
        return s.exec(q).all()


def llm_usage(store: Store, run_id: str, agent_id: str) -> dict[str, Any]:
    """An agent's model use: calls, tokens in and out, cost in USD and faults."""
    c = LLMCallRow
    q = select(  # type: ignore[call-overload]  # sqlmodel types select() for up to 4 columns
        func.count(),
        func.coalesce(func.sum(c.prompt_tokens), 0),
        func.coalesce(func.sum(c.completion_tokens), 0),
        func.coalesce(func.sum(c.cost_usd), 0.0),
        func.count(col(c.fault)),
    ).where(c.run_id == run_id, c.agent_id == agent_id)
    with Session(store.engine) as s:
        n, tin, tout, cost, faults = s.exec(q).one()
    return {
        "calls": int(n),
        "input_tokens": int(tin),
        "output_tokens": int(tout),
        "cost_usd": float(cost),
        "faults": int(faults),
    }


def alert_counts(store: Store, run_ids: Iterable[str]) -> dict[str, int]:
    """Alerts raised per run."""
    from traces.alerts import AlertRow

    ids = list(run_ids)
    if not ids:
        return {}
    q = select(AlertRow.run_id, func.count()).where(col(AlertRow.run_id).in_(ids)).group_by(AlertRow.run_id)
    with Session(store.engine) as s:
        return {r: int(n) for r, n in s.exec(q).all()}
