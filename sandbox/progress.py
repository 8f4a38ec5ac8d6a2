"""Progress of a run that fits slow models: rounds done, and within a round the model calls.

A round of LLM agents on a slow model can take minutes; a bar that moves once a round says
nothing meanwhile. ``live_status`` reads the session's call pools (calls answered, in flight,
waiting for a place under the cap, tokens) and ``RunProgress`` shows them beside the rounds
bar, refreshed twice a second by a thread of its own, in a terminal or a notebook (rich draws
both). Reading the counters takes no lock: they are plain integers the run only adds to.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from agents.llm.budget import pools_of


@dataclass(frozen=True)
class LiveStatus:
    """What a run is doing now."""

    round: int
    rounds: int
    calls: int
    in_flight: int
    waiting: int
    tokens: int

    def text(self) -> str:
        """One line for people: the model calls, when there are any."""
        if not (self.calls or self.in_flight or self.waiting):
            return ""
        return (
            f"{self.calls:,} calls answered, {self.in_flight} in flight, {self.waiting} waiting"
            f" · {self.tokens:,} tokens"
        )


def live_status(session: Any) -> LiveStatus:  # noqa: ANN401 (a Session; typed loosely to avoid an import cycle)
    """The session's progress now: its round and its model calls so far (every pool)."""
    pools = pools_of(session.shared).values()
    return LiveStatus(
        round=session.round,
        rounds=session.scenario.rounds,
        calls=sum(p.spend.calls for p in pools),
        in_flight=sum(p.in_flight for p in pools),
        waiting=sum(p.waiting for p in pools),
        tokens=sum(p.spend.tokens for p in pools),
    )


class RunProgress:
    """A rounds bar with the live line of model calls, for ``session.run(progress=...)``.

    ``with RunProgress(session) as p: session.run(progress=p.update)``
    """

    def __init__(self, session: Any, console: Console | None = None, every: float = 0.5) -> None:  # noqa: ANN401
        self.session, self.every = session, every
        columns = (
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.fields[calls]}"),
        )
        self.bar = Progress(*columns, console=console, transient=False)
        self.task = self.bar.add_task(f"{session.scenario.name} rounds", total=session.scenario.rounds, calls="")
        self._stop = threading.Event()
        self._ticker = threading.Thread(target=self._tick, name="agora-progress", daemon=True)

    def update(self, done: int, total: int) -> None:
        """The round callback: rounds done of the total."""
        self.bar.update(self.task, completed=done, total=total, calls=live_status(self.session).text())

    def _tick(self) -> None:
        while not self._stop.wait(self.every):
            self.bar.update(self.task, calls=live_status(self.session).text())

    def __enter__(self) -> RunProgress:
        self.bar.__enter__()
        self._ticker.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, err: BaseException | None, tb: TracebackType | None) -> None:
        self._stop.set()
        self._ticker.join()
        self.bar.update(self.task, calls=live_status(self.session).text())
        self.bar.__exit__(kind, err, tb)
