"""Small builders shared by tests: a real market with a buyer and a seller; a warmed stand-in model server."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager

from agents.llm.model_server import ModelServer
from agents.observation import Private
from protocols import Protocol, ProtocolConfig
from protocols.money import to_micros
from protocols.policy import IncentivePolicy
from sandbox.ledger import Ledger
from sandbox.market import Market, Member


def small_market(buyer_budget: float = 100.0, capacity: int = 2) -> tuple[Market, Protocol, IncentivePolicy]:
    """A real market with buyer b1, b2 and seller s1 (cost 10, value 50)."""
    market = Market(Ledger())
    market.round = 1
    market.join(Member("b1", "buyer", "test", Private(values={"svc": 50.0}, demand=3), to_micros(buyer_budget)))
    market.join(Member("b2", "buyer", "test", Private(values={"svc": 40.0}, demand=1), to_micros(buyer_budget)))
    market.join(Member("s1", "seller", "test", Private(costs={"svc": 10.0}, capacity=capacity), 0))
    return market, Protocol(ProtocolConfig(min_price=0.01, max_price=500.0)), IncentivePolicy(fee_rate=0.1)


def act(market: Market, protocol: Protocol, policy: IncentivePolicy, action, who: str):
    """Submit through the protocol and apply if accepted; returns (verdict, thread_id, deal)."""
    verdict = protocol.submit(action, market, who)
    if not verdict.accepted:
        return verdict, None, None
    thread_id, deal = market.apply(action, who, policy)
    return verdict, thread_id, deal


@contextmanager
def warmed_model_server() -> Iterator[ModelServer]:
    """The stand-in model server, after one request (it loads the tokenizer before the first call a test makes)."""
    with ModelServer() as srv:
        body = json.dumps({"model": "zi_c", "messages": [{"role": "user", "content": "warm up"}]}).encode()
        req = urllib.request.Request(
            f"{srv.url}/chat/completions", data=body, headers={"Content-Type": "application/json"}
        )
        urllib.request.urlopen(req, timeout=120).read()
        yield srv
