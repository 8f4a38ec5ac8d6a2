"""Circuit breakers: every transition of the closed / open / half-open machine."""

from __future__ import annotations

from protocols.breakers import BreakerConfig, BreakerState, CircuitBreaker, step, trip

S = BreakerState


def _run(b: CircuitBreaker, cfg: BreakerConfig, events: list[float], start: int = 1) -> tuple[CircuitBreaker, list]:
    out = []
    for i, n in enumerate(events):
        b, tr = step(b, cfg, start + i, n)
        out.append(tr)
    return b, out


def test_windowed_breaker_trips_at_threshold_and_not_below() -> None:
    cfg = BreakerConfig(threshold=5, window=3, cooldown=2)
    b, trs = _run(CircuitBreaker("v", "a1"), cfg, [2, 2, 0, 2, 0])  # never 5 within 3 rounds
    assert b.state is S.CLOSED and not any(trs)
    b, trs = _run(CircuitBreaker("v", "a1"), cfg, [2, 2, 1])
    assert b.state is S.OPEN and b.blocks and trs[-1].before is S.CLOSED and b.trips == 1
    assert "5 events in 3 rounds" in trs[-1].reason


def test_events_older_than_the_window_are_forgotten() -> None:
    cfg = BreakerConfig(threshold=3, window=2)
    b, _ = _run(CircuitBreaker("v", "a1"), cfg, [2, 0, 2])
    assert b.state is S.CLOSED


def test_consecutive_breaker_needs_bad_rounds_in_a_row() -> None:
    cfg = BreakerConfig(threshold=3, consecutive=True)
    b, _ = _run(CircuitBreaker("e", "a1"), cfg, [1, 1, 0, 1, 1])
    assert b.state is S.CLOSED
    b, _ = _run(b, cfg, [1], start=6)
    assert b.state is S.OPEN


def test_open_to_half_open_after_cooldown_then_closed_after_quiet_probation() -> None:
    cfg = BreakerConfig(threshold=1, cooldown=2, probe_rounds=2)
    b, _ = step(CircuitBreaker("v", "a1"), cfg, 1, 1)
    assert b.state is S.OPEN
    b, tr = step(b, cfg, 2, 5)  # events while open change nothing
    assert b.state is S.OPEN and tr is None
    b, tr = step(b, cfg, 3, 0)
    assert b.state is S.HALF_OPEN and tr.after is S.HALF_OPEN and not b.blocks
    b, tr = step(b, cfg, 4, 0)
    assert b.state is S.CLOSED and tr.before is S.HALF_OPEN


def test_half_open_reopens_on_a_bad_round_with_doubled_cooldown() -> None:
    cfg = BreakerConfig(threshold=1, cooldown=2, probe_rounds=2, max_cooldown=6)
    b, _ = step(CircuitBreaker("v", "a1"), cfg, 1, 1)
    b, _ = step(b, cfg, 3, 0)
    b, tr = step(b, cfg, 4, 1)
    assert b.state is S.OPEN and b.cooldown == 4 and b.trips == 2 and tr.before is S.HALF_OPEN
    b, _ = step(b, cfg, 8, 0)
    b, _ = step(b, cfg, 9, 3)
    assert b.cooldown == 6  # capped


def test_trip_opens_by_decision() -> None:
    cfg = BreakerConfig(threshold=10)
    b, tr = trip(CircuitBreaker("v", "a1"), cfg, 5, "suspended by a reviewer", cooldown=7)
    assert b.state is S.OPEN and b.cooldown == 7 and tr.reason == "suspended by a reviewer"


def test_a_quiet_closed_breaker_is_returned_unchanged() -> None:
    b = CircuitBreaker("v", "a1")
    assert step(b, BreakerConfig(threshold=1), 1, 0) == (b, None)
