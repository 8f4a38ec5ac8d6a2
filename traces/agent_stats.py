"""Per-agent figures of a run in a few grouped queries, for the audit app's agents overview.

One query per table (ledger, transactions, actions, model calls, alerts, breaker events), each
grouped by agent, so the overview costs the same for 10 agents as for 1,000.
"""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from traces.alerts import AlertRow, BreakerEventRow
from traces.llm_calls import LLMCallRow
from traces.schema import ActionRow, LedgerEntryRow, TransactionRow
from traces.store import Store

ACCOUNT_PREFIX = "agent:"  # protocols.settlement.account(agent_id)
ACCOUNT_END = "agent;"  # the first string after every "agent:..." (';' follows ':')


def agent_overview(store: Store, run_id: str) -> dict[str, dict[str, Any]]:
    """For every agent that appears in a run's records: balance (micro-units, net of all postings),
    deals, rejected actions, alerts naming it, its breaker's last state, model calls, tokens and cost."""
    out: dict[str, dict[str, Any]] = defaultdict(
        lambda: {
            "balance": 0,
            "deals": 0,
            "violations": 0,
            "alerts": 0,
            "breaker": "closed",
            "llm_calls": 0,
            "input_tokens": 0,
            "output_tokens": 0,
            "cost_usd": 0.0,
        }
    )
    e, t, a, c = LedgerEntryRow, TransactionRow, ActionRow, LLMCallRow
    with Session(store.engine) as s:
        for side, sign in ((e.dest, 1), (e.source, -1)):
            # agents' accounts only (a key range on the covering index), not escrow or the treasury
            agent_accounts = (side >= ACCOUNT_PREFIX) & (side < ACCOUNT_END)
            q = select(side, func.sum(e.amount)).where(e.run_id == run_id, agent_accounts).group_by(side)
            for account, amount in s.exec(q):
                out[account[len(ACCOUNT_PREFIX) :]]["balance"] += sign * int(amount)
        for side in (t.buyer, t.seller):
            for agent, n in s.exec(select(side, func.count()).where(t.run_id == run_id).group_by(side)):
                out[agent]["deals"] += int(n)
        rejected = select(a.agent_id, func.count()).where(a.run_id == run_id, col(a.accepted).is_(False))
        for agent, n in s.exec(rejected.group_by(a.agent_id)):
            out[agent]["violations"] = int(n)
        usage = select(  # type: ignore[call-overload]  # sqlmodel types select() for up to 4 columns
            c.agent_id,
            func.count(),
            func.coalesce(func.sum(c.prompt_tokens), 0),
            func.coalesce(func.sum(c.completion_tokens), 0),
            func.coalesce(func.sum(c.cost_usd), 0.0),
        ).where(c.run_id == run_id)
        for agent, n, tin, tout, cost in s.exec(usage.group_by(c.agent_id)):
            out[agent].update(llm_calls=int(n), input_tokens=int(tin), output_tokens=int(tout), cost_usd=float(cost))
        for agents_json in s.exec(select(AlertRow.agents_json).where(AlertRow.run_id == run_id)):
            for agent in json.loads(agents_json or "[]"):
                out[str(agent)]["alerts"] += 1
        events = select(BreakerEventRow.subject, BreakerEventRow.after).where(BreakerEventRow.run_id == run_id)
        for subject, after in s.exec(events.order_by(col(BreakerEventRow.seq))):
            if subject in out or not subject.startswith(("service:", "session", "messages")):
                out[subject]["breaker"] = after  # the last event wins
    return dict(out)


def seller_scores(store: Store, run_id: str, seller: str) -> list[tuple[int, float]]:
    """(settled round, outcome score) of a seller's settled, scored deals in settlement order:
    what its reputation is computed from, read as two columns rather than whole rows."""
    t = TransactionRow
    q = (
        select(t.settled_round, t.score)
        .where(t.run_id == run_id, t.seller == seller, t.status == "settled", col(t.score).is_not(None))
        .order_by(col(t.tx_id))
    )
    with Session(store.engine) as s:
        # the query keeps only scored deals, so ``sc is not None`` always holds; it narrows the type
        return [(int(r), float(sc)) for r, sc in s.exec(q) if sc is not None]
