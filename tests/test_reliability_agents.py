"""One agent cannot take the run down or bloat the store: hostile returns, floods, huge exceptions."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from agents import ZIC
from agents.base import Agent
from sandbox import Session


class CircularAgent(Agent):
    """Returns a dict that contains itself, and one nested 5,000 deep."""

    kind = "test_circular"

    def decide(self, obs: Any) -> Sequence[Any]:
        loop: dict[str, Any] = {"type": "post_listing"}
        loop["self"] = loop
        deep: dict[str, Any] = {}
        cur = deep
        for _ in range(5000):
            cur["x"] = {}
            cur = cur["x"]
        return [loop, deep]


class FloodAgent(Agent):
    """Returns 10,000 actions a round, none of them valid."""

    kind = "test_flood"

    def decide(self, obs: Any) -> Sequence[Any]:
        return [{"type": "nonsense", "i": i} for i in range(10_000)]


class BadError(Exception):
    def __str__(self) -> str:
        raise RuntimeError("no text for you")


class ExplodingAgent(Agent):
    """Raises a 100 KB exception in even rounds, one whose text cannot be shown in odd ones."""

    kind = "test_exploding"

    def decide(self, obs: Any) -> Sequence[Any]:
        if obs.round % 2 == 0:
            raise RuntimeError("x" * 100_000)
        raise BadError()


def _run(tmp_path, *hostile: type[Agent], rounds: int = 3) -> tuple[Session, sqlite3.Connection]:
    db = str(tmp_path / "h.db")
    s = Session(seed=3, rounds=rounds, store=db)
    s.spawn(ZIC, n=3, role="seller", cost=(5, 20), capacity=3)
    s.spawn(ZIC, n=3, role="buyer", budget=100, value=(20, 60), demand=2)
    for cls in hostile:
        s.spawn(cls, n=1, role="buyer", budget=50, value=30)
    s.run()
    return s, sqlite3.connect(db)


def test_circular_and_deep_returns_are_refused_not_fatal(tmp_path) -> None:
    s, con = _run(tmp_path, CircularAgent)
    assert s.round == 3
    rows = con.execute("select rule, reason, length(payload) from actions where agent_id='buyer-003'").fetchall()
    assert len(rows) == 6 and all(rule == "schema" and "could not be read" in reason for rule, reason, _ in rows)
    assert max(n for *_, n in rows) <= 8000
    assert con.execute("select status from runs").fetchone()[0] == "finished"


def test_a_flood_is_one_row_per_agent_and_round_and_still_fined(tmp_path) -> None:
    s, con = _run(tmp_path, FloodAgent)
    cap, keep = s.scenario.market.max_actions_per_round, s.scenario.market.flood_rows
    per_round = con.execute(
        "select round, count(*) from actions where agent_id='buyer-003' group by round order by round"
    ).fetchall()
    assert per_round == [(r, cap + keep + 1) for r in (1, 2, 3)]
    summary = con.execute("select rule, reason from actions where action_type='flood'").fetchall()
    assert len(summary) == 3 and all(rule == "rate_limit" and "9,970 more actions" in r for rule, r in summary)
    assert s.rejections["rate_limit"] == 3 * (10_000 - cap)  # every dropped action counts as refused
    spans = con.execute("select count(*) from spans where agent_id='buyer-003'").fetchone()[0]
    assert spans < 3 * (cap + keep + 5)  # no span per dropped action either


def test_an_agents_exception_text_is_capped(tmp_path) -> None:
    s, con = _run(tmp_path, ExplodingAgent, rounds=2)
    reasons = [r for (r,) in con.execute("select reason from actions where action_type='turn_error'")]
    assert len(reasons) == 2
    assert all(len(r) < 2200 for r in reasons) and any("more characters cut" in r for r in reasons)
    # an exception whose __str__ raises: the turn fails with that error instead (when traced, the span's
    # status formatting raises it first), and the run goes on
    assert any("cannot be shown" in r or "no text for you" in r for r in reasons)
    assert con.execute("select status from runs").fetchone()[0] == "finished"
    longest = con.execute("select max(length(status_message)), max(length(events_json)) from spans").fetchone()
    assert longest[0] < 2200 and longest[1] < 40_000
