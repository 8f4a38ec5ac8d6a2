"""An agent's generator reseeded at each turn, the seed put in when the generator is first used.

The session reseeds every agent's ``random.Random`` from (session seed, agent id, round) before each
turn, so a turn's draws depend only on that key (``agents/base.py``). Seeding a Mersenne Twister
from a string costs about 30,000 instructions, and most turns draw nothing: in the services market
three turns in four (markup sellers and budget buyers never draw, a ZI trader only when it quotes).

``reseed`` therefore only notes the key on a plain ``random.Random`` and gives it the class
``_KeyedRandom``: every way to read or draw from the generator (``random``, ``getrandbits`` and
everything built on them, ``getstate``, pickling and copying) first puts the seed in, exactly as
``Random.seed(key)`` would have, and makes the generator a plain ``random.Random`` again; ``seed``
and ``setstate`` drop the noted key. So whatever reads the generator sees the state an eager reseed
leaves (``tests/test_engine_hot_path.py``), and a turn that never draws costs a note.
"""

from __future__ import annotations

import _random
import random
from hashlib import sha512
from typing import Any

_CRandom = _random.Random
_Random = random.Random


def reseed(rng: random.Random, key: str) -> None:
    """``rng.seed(key)`` as read from then on: for a plain ``random.Random``, the key is put in when the
    generator is first used (what version 2 does with a string: the key's bytes and their SHA-512 as one
    int); a subclass's own ``seed`` is called now."""
    cls = type(rng)
    if cls is not _Random and cls is not _KeyedRandom:
        rng.seed(key)
        return
    rng.gauss_next = None  # type: ignore[attr-defined]  # read by gauss before it draws
    rng._turn_key = key  # type: ignore[attr-defined]
    if cls is _Random:
        rng.__class__ = _KeyedRandom


def seed_now(rng: random.Random, key: str) -> None:
    """``rng.seed(key)`` at once, a noted key dropped: for an agent that draws on nearly every turn
    (``Agent.draws_every_turn``), where noting the key would only add the steps of putting it in."""
    cls = type(rng)
    if cls is _KeyedRandom:
        _drop_key(rng)
        cls = _Random
    if cls is not _Random:
        rng.seed(key)
        return
    seed_plain(rng, key)


def seed_plain(rng: random.Random, key: str) -> None:
    """``Random.seed(key)`` for a plain ``random.Random``, without its Python-level dispatch (version 2 with
    a string: the key's bytes and their SHA-512 as one int)."""
    b = key.encode()
    _CRandom.seed(rng, int.from_bytes(b + sha512(b).digest()))
    rng.gauss_next = None  # type: ignore[attr-defined]


def shuffle(items: list[Any], key: str) -> None:
    """``random.Random(key).shuffle(items)``: the same draws and swaps (Fisher-Yates from the end, each index by
    ``getrandbits`` as ``Random._randbelow`` draws it), without a Python call per item."""
    getrandbits = _Random(key).getrandbits
    for i in reversed(range(1, len(items))):
        n = i + 1
        k = n.bit_length()
        j = getrandbits(k)
        while j >= n:
            j = getrandbits(k)
        items[i], items[j] = items[j], items[i]


def _put_in(rng: random.Random) -> None:
    """Seed ``rng`` from its noted key and make it a plain ``random.Random`` again (once; then nothing)."""
    if type(rng) is _KeyedRandom:
        rng.__class__ = _Random  # type: ignore[assignment]  # back to the plain class it was made from
        seed_plain(rng, rng.__dict__.pop("_turn_key"))


def _drop_key(rng: random.Random) -> None:
    if type(rng) is _KeyedRandom:
        rng.__class__ = _Random  # type: ignore[assignment]  # back to the plain class it was made from
        rng.__dict__.pop("_turn_key", None)


class _KeyedRandom(random.Random):
    """A plain generator whose next seed is noted, not put in yet (``reseed``); never made directly."""

    def random(self) -> float:
        _put_in(self)
        return _CRandom.random(self)

    def getrandbits(self, k: int, /) -> int:
        _put_in(self)
        return _CRandom.getrandbits(self, k)

    def getstate(self) -> tuple[Any, ...]:
        _put_in(self)
        return _Random.getstate(self)

    def setstate(self, state: tuple[Any, ...]) -> None:
        _drop_key(self)
        _Random.setstate(self, state)

    def seed(self, a: Any = None, version: int = 2) -> None:
        _drop_key(self)
        _Random.seed(self, a, version)

    def __reduce__(self) -> str | tuple[Any, ...]:
        _put_in(self)
        return _Random.__reduce__(self)
