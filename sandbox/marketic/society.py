"""A society of primitives: simple programs that bid for the right to act on the world.

A primitive is a fixed transformation (one action of the task, applied to whatever state
it buys) and a table of bids, one learned number per state. Cloning, as in Chang et al.'s
Cloned Vickrey Society, makes ``clones`` identical copies of each primitive that learn and
bid independently: at equilibrium the second-highest bid then comes from a clone of the
winner, so a second-price rule pays (almost) the winner's own value.

Bids are learned in currency units (floats) and converted to integer micro-units only when
they are submitted, so the auction and the ledger only see integers.

How a primitive bids without money: a submitted bid is capped by the primitive's wealth
(its ledger balance) and floored at zero, so whatever it is asked to pay (its own bid, or a
lower second price) it holds, and no account ever goes below zero. A broke primitive bids
zero and can win only if every bid is zero, in which case it pays nothing.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from protocols.auctions import SealedBid
from protocols.money import to_micros
from sandbox.marketic.tasks import Task


@dataclass
class Primitive:
    """One bidder: the action it always takes, its clone index and its bid per state."""

    pid: str
    action: str
    clone: int
    bids: dict[int, float] = field(default_factory=dict)
    wins: int = 0
    rng: random.Random = field(default_factory=random.Random, repr=False)

    def value(self, state: int, init: float = 0.0) -> float:
        """The learned bid for ``state`` (what it believes buying the state is worth)."""
        return self.bids.get(state, init)

    def learn(self, state: int, target: float, lr: float, init: float = 0.0) -> None:
        """Move the bid for ``state`` a step ``lr`` towards ``target``: b <- b + lr (target - b)."""
        b = self.value(state, init)
        self.bids[state] = b + lr * (target - b)


def make_primitives(task: Task, clones: int, seed: int, shared: bool = False) -> list[Primitive]:
    """``clones`` copies of one primitive per action, each with its own seeded noise stream.

    With ``shared`` the copies of one primitive are literal clones of one program: they share
    a single bid table (whichever copy wins updates it) and differ only in their noise and
    their purse. Without it each copy learns its own table from its own wins.
    """
    if clones < 1:
        raise ValueError("clones must be at least 1 (one copy of each primitive)")
    out = []
    for a in task.actions:
        table: dict[int, float] = {}
        for c in range(clones):
            bids = table if shared else {}
            out.append(Primitive(f"{a}.{c}", a, c, bids, rng=random.Random(f"{seed}/noise/{a}.{c}")))
    return out


def sealed_bids(
    primitives: list[Primitive], state: int, wealth: dict[str, int], sigma: float, init: float = 0.0
) -> list[SealedBid]:
    """Every primitive's bid for ``state``: learned bid plus exploration noise, floored at 0, capped by wealth.

    The noise is Gaussian with standard deviation ``sigma`` (in units) and drawn from each
    primitive's own stream, in the primitives' fixed order, so a run is reproducible.
    """
    out = []
    for p in primitives:
        b = p.value(state, init)
        if sigma > 0:
            b += p.rng.gauss(0.0, sigma)
        out.append(SealedBid(p.pid, min(to_micros(max(b, 0.0)), max(wealth.get(p.pid, 0), 0))))
    return out


def greedy_action(primitives: list[Primitive], state: int, wealth: dict[str, int], init: float = 0.0) -> str:
    """The action the society takes in ``state`` with exploration off (wealth caps still apply).

    Ties go to the earlier primitive in the society's fixed order (actions in task order).
    """
    best: Primitive | None = None
    best_bid = -1
    for p in primitives:
        bid = effective_bid(p, state, wealth, init)
        if bid > best_bid:
            best, best_bid = p, bid
    assert best is not None
    return best.action


def effective_bid(p: Primitive, state: int, wealth: dict[str, int], init: float = 0.0) -> int:
    """What ``p`` would bid for ``state`` with exploration off: its learned bid, floored at 0, capped by wealth."""
    return min(to_micros(max(p.value(state, init), 0.0)), max(wealth.get(p.pid, 0), 0))


def top_bid(primitives: list[Primitive], state: int, wealth: dict[str, int], init: float = 0.0) -> int:
    """The highest noise-free bid for ``state`` in micro-units: the price the society now puts on it."""
    return max(effective_bid(p, state, wealth, init) for p in primitives)
