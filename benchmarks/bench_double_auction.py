"""Orders per second of Agora's ZI-C double auction against plain-Python and Mesa references.

Run: .venv/bin/python benchmarks/bench_double_auction.py [--periods 24] [--repeat 3]

Measured in one process, each the best of --repeat runs, wall and CPU time:
1. Agora: the built-in ``double_auction`` scenario (6 buyers, 6 sellers, 4 units each, periods of
   25 rounds), run for --periods periods through the whole round loop, tracing off, no store.
   Every order is validated, checked by the protocol and the safety layer, recorded in memory.
2. Plain Python: the same market (same schedules, price band, one order per trader with units
   left per round, in random order; an order must improve its side; a crossing order trades at
   the standing price and clears the book) as a bare loop over lists: the floor for Python.
3. Mesa 3 (if installed: ``pip install -e .[bench]``): the same loop as a Mesa model, the
   traders as Mesa agents stepped with ``shuffle_do``.
Prints orders/s and the ratio Agora / reference. Figures only; nothing here is asserted.
"""

from __future__ import annotations

import argparse
import os
import random
import time
from collections.abc import Callable

from sandbox.scenario import load_scenario
from sandbox.session import Session

BUYERS = [
    [190, 160, 130, 100],
    [180, 150, 120, 90],
    [170, 140, 110, 80],
    [165, 135, 105, 75],
    [155, 125, 95, 65],
    [145, 115, 85, 55],
]
SELLERS = [
    [30, 60, 90, 120],
    [40, 70, 100, 130],
    [50, 80, 110, 140],
    [55, 85, 115, 145],
    [65, 95, 125, 155],
    [75, 105, 135, 165],
]
LO, HI, PERIOD = 1.0, 200.0, 25


def agora(periods: int) -> tuple[int, int]:
    """Run the built-in scenario for ``periods`` periods; returns (orders, trades)."""
    sc = load_scenario("double_auction")
    sc.rounds = periods * sc.mechanism.period_rounds  # type: ignore[union-attr]
    res = Session(sc, tracing=False).run()
    return res.summary["actions"], res.summary["transactions"]


class Book:
    """Best bid and ask only (Gode-Sunder): improve or be refused; a cross trades and clears."""

    def __init__(self) -> None:
        self.bid: tuple[float, int] | None = None
        self.ask: tuple[float, int] | None = None
        self.trades = 0

    def order(self, trader: int, buying: bool, price: float) -> bool:
        """Submit an order; True if it traded (both traders' next units are then used)."""
        if buying:
            if self.ask is not None and price >= self.ask[0]:
                return self._trade(trader, self.ask[1])
            if self.bid is None or price > self.bid[0]:
                self.bid = (price, trader)
        else:
            if self.bid is not None and price <= self.bid[0]:
                return self._trade(self.bid[1], trader)
            if self.ask is None or price < self.ask[0]:
                self.ask = (price, trader)
        return False

    def _trade(self, buyer: int, seller: int) -> bool:
        self.trades += 1
        self.last = (buyer, seller)
        self.bid = self.ask = None
        return True


def plain(periods: int, seed: int = 11) -> tuple[int, int]:
    """The same ZI-C market as a bare Python loop; returns (orders, trades)."""
    rng = random.Random(seed)
    limits = BUYERS + SELLERS
    n_buy = len(BUYERS)
    orders = 0
    book = Book()
    for _ in range(periods):
        left = [0] * len(limits)  # units used this period
        book.bid = book.ask = None
        for _ in range(PERIOD):
            order = list(range(len(limits)))
            rng.shuffle(order)
            for t in order:
                if left[t] >= 4:
                    continue
                limit = limits[t][left[t]]
                buying = t < n_buy
                lo, hi = (LO, min(limit, HI)) if buying else (max(limit, LO), HI)
                price = round(rng.uniform(lo, hi), 2)
                orders += 1
                if book.order(t, buying, price):
                    b, s = book.last
                    left[b] += 1
                    left[s] += 1
    return orders, book.trades


def mesa_run(periods: int, seed: int = 11) -> tuple[int, int]:
    """The same market as a Mesa 3 model (traders are Mesa agents); returns (orders, trades)."""
    import mesa

    class Trader(mesa.Agent):
        def __init__(self, model: mesa.Model, schedule: list[int], buying: bool) -> None:
            super().__init__(model)
            self.schedule, self.buying, self.used = schedule, buying, 0

        def step(self) -> None:
            if self.used >= 4:
                return
            limit = self.schedule[self.used]
            lo, hi = (LO, min(limit, HI)) if self.buying else (max(limit, LO), HI)
            m = self.model
            m.orders += 1
            if m.book.order(self.unique_id, self.buying, round(m.random.uniform(lo, hi), 2)):
                b, s = m.book.last
                m.by_id[b].used += 1
                m.by_id[s].used += 1

    class CDA(mesa.Model):
        def __init__(self) -> None:
            super().__init__(seed=seed)
            self.book, self.orders = Book(), 0
            traders = [Trader(self, s, True) for s in BUYERS] + [Trader(self, s, False) for s in SELLERS]
            self.by_id = {a.unique_id: a for a in traders}

        def step(self) -> None:
            if self.steps % PERIOD == 1:  # Mesa counts steps from 1: a new period refills the units
                for a in self.agents:
                    a.used = 0
                self.book.bid = self.book.ask = None
            self.agents.shuffle_do("step")

    model = CDA()
    for _ in range(periods * PERIOD):
        model.step()
    return model.orders, model.book.trades


def best(f: Callable[[int], tuple[int, int]], periods: int, repeat: int) -> tuple[float, float, int, int]:
    """Best orders/s (wall, CPU) of ``repeat`` runs, with the orders and trades of one."""
    wall = cpu = 0.0
    n = tr = 0
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        n, tr = f(periods)
        dt, dc = time.perf_counter() - t0, time.process_time() - c0
        wall, cpu = max(wall, n / dt), max(cpu, n / max(dc, 1e-9))
    return wall, cpu, n, tr


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument(
        "--periods", type=int, default=24, help="trading periods of 25 rounds (Agora); references run 20x as many"
    )
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    agora(1)  # warm-up: imports, first validations
    rows = [("agora (tracing off, no store)", best(agora, a.periods, a.repeat))]
    rows.append(("plain python ZI-C CDA", best(plain, 20 * a.periods, a.repeat)))
    try:
        import mesa

        rows.append((f"mesa {mesa.__version__}", best(mesa_run, 20 * a.periods, a.repeat)))
    except ImportError:
        print("mesa not installed (pip install -e .[bench]): Mesa reference skipped")
    print(f"{'':32} {'orders':>8} {'trades':>7} {'orders/s wall':>14} {'orders/s CPU':>13}")
    for name, (wall, cpu, n, tr) in rows:
        print(f"{name:32} {n:>8} {tr:>7} {wall:>14,.0f} {cpu:>13,.0f}")
    ag = rows[0][1][1]
    for name, (_, cpu, _, _) in rows[1:]:
        print(f"agora / {name}: {ag / cpu:.3f} (CPU orders/s), i.e. {cpu / ag:.0f}x slower")


if __name__ == "__main__":
    main()
