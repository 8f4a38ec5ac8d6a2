"""Cost of the safety checks per submission: ``Protocol.submit`` with and without them.

    .venv/bin/python benchmarks/safety_checks.py

A real market with two buyers and three sellers; each figure is the best of 7 timed loops of
5,000 submissions, in process CPU time (the best, because other work on a shared machine only adds time).
"""

from __future__ import annotations

import time

from agents.observation import Private
from protocols import Protocol, ProtocolConfig
from protocols.actions import ActionBase, MakeOffer, Message, PostService
from protocols.constraints import DEFAULT_CHECKS
from protocols.money import to_micros
from protocols.safety import SafetyConfig, safety_checks
from sandbox.ledger import Ledger
from sandbox.market import Market, Member


def _market() -> Market:
    market = Market(Ledger())
    market.round = 1
    market.join(Member("b1", "buyer", "bench", Private(values={"svc": 50.0}, demand=5), to_micros(500)))
    market.join(Member("s1", "seller", "bench", Private(costs={"svc": 10.25}, capacity=20), to_micros(100)))
    market.join(Member("s2", "seller", "bench", Private(costs={"svc": 12.0}, capacity=20), to_micros(100)))
    market.apply(PostService(service="svc", ask_price=20, capacity=10), "s1", None)  # type: ignore[arg-type]
    return market


def best_us(protocol: Protocol, market: Market, action: ActionBase, n: int = 5000, tries: int = 7) -> float:
    """Best time per submit over ``tries`` loops of ``n``, in microseconds."""
    best = float("inf")
    for _ in range(tries):
        t0 = time.process_time()
        for _ in range(n):
            protocol.submit(action, market, "b1")
        best = min(best, (time.process_time() - t0) / n * 1e6)
    return best


def main() -> None:
    """Print the cost per submission with and without the safety checks."""
    market = _market()
    config = ProtocolConfig(min_price=0.01, max_price=500.0)
    plain = Protocol(config)
    safe = Protocol(config, (*DEFAULT_CHECKS, *safety_checks(SafetyConfig())))
    actions = {
        "make_offer": MakeOffer(listing_id="L1", price=20),
        "message": Message(to="s1", text="Would you take 18 for one unit? I can pay on delivery."),
        "message (price talk)": Message(to="s2", text="What price do you ask for a rush job?"),
    }
    for name, action in actions.items():
        a, b = best_us(plain, market, action), best_us(safe, market, action)
        print(f"{name:22} skeleton {a:6.1f} us, with safety {b:6.1f} us (+{b - a:.1f} us)")


if __name__ == "__main__":
    main()
