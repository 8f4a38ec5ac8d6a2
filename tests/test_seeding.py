"""A turn's reseed put in on first use (``sandbox/seeding.py``) reads as an eager ``Random.seed(key)``.

Two generators get the same stream of operations: one seeded eagerly with ``Random.seed(key)``, one
with ``reseed``; every draw, state, pickle and copy taken from them must be equal, whatever comes
between reseeds (nothing, draws of every kind, ``gauss`` with a value pending, ``seed``, ``setstate``,
several reseeds in a row)."""

from __future__ import annotations

import copy
import pickle
import random
from collections.abc import Callable
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from sandbox.scenario import load_scenario
from sandbox.seeding import _KeyedRandom, reseed, seed_now, shuffle
from sandbox.session import Session

DRAWS: dict[str, Callable[[random.Random], Any]] = {
    "random": lambda r: r.random(),
    "uniform": lambda r: r.uniform(1.0, 200.0),
    "choice": lambda r: r.choice("abcdefghij"),
    "randint": lambda r: r.randint(0, 10**12),
    "randrange": lambda r: r.randrange(2**31),
    "shuffle": lambda r: (lambda xs: (r.shuffle(xs), xs)[1])(list(range(20))),
    "sample": lambda r: r.sample(range(100), 5),
    "choices": lambda r: r.choices("abc", weights=[1, 2, 3], k=4),
    "gauss": lambda r: r.gauss(0.0, 1.0),
    "normalvariate": lambda r: r.normalvariate(0.0, 1.0),
    "expovariate": lambda r: r.expovariate(2.0),
    "getrandbits": lambda r: r.getrandbits(70),
    "randbytes": lambda r: r.randbytes(9),
    "getstate": lambda r: r.getstate(),
    "pickle": lambda r: pickle.loads(pickle.dumps(r)).random(),
    "deepcopy": lambda r: copy.deepcopy(r).getstate(),
    "copy": lambda r: copy.copy(r).random(),
}
KEYS = st.sampled_from(["7/buyer-001/3", "7/seller-012/4/1", "", "é/ü/∞", "0/x/1"])
OPS = st.one_of(
    st.tuples(st.just("reseed"), KEYS),
    st.tuples(st.just("draw"), st.sampled_from(sorted(DRAWS))),
    st.tuples(st.just("seed"), st.integers(0, 99)),
    st.tuples(st.just("setstate"), st.integers(0, 3)),
)


def _play(ops: list[tuple[str, Any]], lazy: bool, at_once_every: int = 0) -> list[Any]:
    """The stream's draws and last state; with ``at_once_every`` = n, every n-th reseed is ``seed_now``."""
    rng = random.Random(5)
    states = [random.Random(i).getstate() for i in range(4)]
    out: list[Any] = []
    for i, (op, arg) in enumerate(ops):
        if op == "reseed":
            if lazy and at_once_every and i % at_once_every == 0:
                seed_now(rng, arg)
            elif lazy:
                reseed(rng, arg)
            else:
                rng.seed(arg)
                rng.gauss_next = None  # type: ignore[attr-defined]  # as Random.seed does
        elif op == "draw":
            out.append((arg, DRAWS[arg](rng)))
        elif op == "seed":
            rng.seed(arg)
        else:
            rng.setstate(states[arg])
    out.append(rng.getstate())
    assert type(rng) is random.Random  # a generator read is plain again
    return out


@settings(max_examples=300, deadline=None)
@given(st.lists(OPS, max_size=30))
def test_a_reseed_put_in_on_first_use_reads_as_an_eager_seed(ops: list[tuple[str, Any]]) -> None:
    assert _play(ops, lazy=True) == _play(ops, lazy=False)


@settings(max_examples=200, deadline=None)
@given(st.lists(OPS, max_size=30), st.integers(1, 3))
def test_seeds_put_in_at_once_mixed_with_noted_ones_read_as_eager_seeds(ops: list[tuple[str, Any]], n: int) -> None:
    """``seed_now`` (an agent that draws every turn) drops a key still noted and seeds as ``Random.seed``."""
    assert _play(ops, lazy=True, at_once_every=n) == _play(ops, lazy=False)


def test_seed_now_replaces_a_noted_key_and_leaves_a_plain_generator() -> None:
    rng = random.Random(1)
    reseed(rng, "k1")
    seed_now(rng, "k2")
    assert type(rng) is random.Random and rng.random() == random.Random("k2").random()


def test_every_draw_after_a_reseed_reads_as_an_eager_seed() -> None:
    for name in DRAWS:
        ops = [("draw", "gauss"), ("reseed", "7/a/1"), ("draw", name), ("draw", name), ("reseed", "7/a/2")]
        assert _play(ops, lazy=True) == _play(ops, lazy=False), name


def test_a_turn_that_draws_nothing_leaves_the_key_noted_and_the_next_reseed_replaces_it() -> None:
    rng = random.Random(1)
    reseed(rng, "k1")
    assert type(rng) is _KeyedRandom  # nothing put in yet
    reseed(rng, "k2")
    assert rng.random() == random.Random("k2").random() and type(rng) is random.Random


def test_a_subclass_gets_its_own_seed_now() -> None:
    seen: list[object] = []

    class Mine(random.Random):
        def seed(self, a: Any = None, version: int = 2) -> None:
            seen.append(a)
            super().seed(a, version)

    rng = Mine()
    reseed(rng, "k")
    assert seen[-1] == "k" and type(rng) is Mine


def test_runs_draw_the_same_whether_reseeds_are_put_in_on_first_use_or_at_once(monkeypatch: Any) -> None:
    """The whole record: services (most turns draw nothing) and the double auction (every turn draws)."""
    import sandbox.turns as turns_mod

    def eager(rng: random.Random, key: str) -> None:
        rng.seed(key)

    def played() -> list[tuple[Any, ...]]:
        rows: list[tuple[Any, ...]] = []
        for name in ("services", "double_auction"):
            s = Session(load_scenario(name), rounds=12, tracing=False)
            s.hooks.round_end.append(
                lambda sess, log: rows.extend((r.agent_id, r.payload, r.verdict.rule) for r in log.records)
            )
            s.run()
        return rows

    lazy = played()
    monkeypatch.setattr(turns_mod, "reseed", eager)
    monkeypatch.setattr(turns_mod, "seed_now", eager)
    monkeypatch.setattr(turns_mod, "seed_plain", eager)
    assert played() == lazy and len(lazy) > 100


@settings(max_examples=60, deadline=None)
@given(n=st.integers(0, 300), key=st.text(max_size=20))
def test_shuffle_is_random_shuffle(n: int, key: str) -> None:
    """``seeding.shuffle`` leaves the order ``random.Random(key).shuffle`` leaves."""
    items, expected = list(range(n)), list(range(n))
    shuffle(items, key)
    random.Random(key).shuffle(expected)
    assert items == expected
