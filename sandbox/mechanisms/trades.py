"""Immediate trades: what posted prices, auctions and the double auction share.

A trade moves the price from the buyer into escrow and settles it at once under the
policy (fees, taxes, subsidies), so every mechanism uses the same ledger instructions.
"""

from __future__ import annotations

from collections import deque

from protocols import settlement
from protocols.policy import IncentivePolicy
from protocols.state import Thread, ThreadState
from sandbox.market import Deal, MarketBase


def trade_now(
    market: MarketBase,
    buyer: str,
    seller: str,
    service: str,
    price: int,
    policy: IncentivePolicy,
    *,
    listing_id: str,
    value: int | None = None,
    cost: int | None = None,
) -> Deal:
    """Carry out one unit's trade at ``price`` (micro-units) and return it as a settled deal."""
    market._thread_seq += 1
    r = market.round
    t = Thread(f"T{market._thread_seq}", listing_id, buyer, seller, service, ThreadState.SETTLED, r, r)
    t.price_micros, t.proposer, t.accepted_round, t.moves = price, buyer, r, 1
    market.threads[t.id] = t
    market.ledger.post_all(settlement.escrow_on_accept(buyer, price), r, ref=t.id)
    plan = settlement.settle(buyer, seller, price, policy)
    market.ledger.post_all(plan.postings, r, ref=t.id)
    market.members[buyer].units_settled += 1
    market.recent_prices.setdefault(service, deque(maxlen=8)).append(price / 1e6)
    return Deal(t, "settled", price, plan.fee, r, value, cost)
