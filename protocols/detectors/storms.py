"""Runaway loops and message storms: message volume or thread length past set bounds."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict, Field

from protocols.detectors.facts import ActFact, Alert, MarketFacts, PerRound, RoundFacts, Severity, of_kind, refs, span


class StormConfig(BaseModel):
    """Bounds on messages and thread length."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    window: int = Field(3, ge=1, description="Rounds looked at.")
    agent_messages: int = Field(8, ge=1, description="Messages one agent may attempt in a round.")
    market_messages: int = Field(60, ge=1, description="Messages all agents may attempt in a round.")
    thread_moves: int = Field(40, ge=2, description="Moves after which a thread counts as a runaway loop.")


def detect_storms(window: Sequence[RoundFacts], market: MarketFacts, cfg: StormConfig) -> list[Alert]:
    """Agents flooding messages, the market flooded, and threads that never end."""
    win = window[-cfg.window :]
    return _detect(win, [_messages(rf) for rf in win], cfg)


class StormWindow:
    """``detect_storms`` kept across rounds (``Detector.kept``): a round's messages are picked out of its
    actions and counted by sender once, when the round enters the window."""

    def __init__(self, cfg: StormConfig) -> None:
        self.cfg = cfg
        self._messages: PerRound[tuple[list[ActFact], Counter[str]]] = PerRound()

    def detect(self, window: Sequence[RoundFacts], market: MarketFacts) -> list[Alert]:
        """The alerts of ``detect_storms`` for this window."""
        win = window[-self.cfg.window :]
        return _detect(win, self._messages.of(win, _messages), self.cfg)


def _messages(rf: RoundFacts) -> tuple[list[ActFact], Counter[str]]:
    """A round's message actions, in order, and their count by sender."""
    msgs = of_kind(rf, "message")
    return msgs, Counter(a.agent for a in msgs)


def _detect(
    win: Sequence[RoundFacts], messages: list[tuple[list[ActFact], Counter[str]]], cfg: StormConfig
) -> list[Alert]:
    """``detect_storms`` on ``win``, given each round's ``_messages``."""
    out: list[Alert] = []
    worst: dict[str, tuple[int, int]] = {}  # agent -> (messages, round) of its worst round
    for rf, (msgs, per_agent) in zip(win, messages, strict=True):
        for agent, n in per_agent.items():
            if n > cfg.agent_messages and n > worst.get(agent, (0, 0))[0]:
                worst[agent] = (n, rf.round)
        if len(msgs) > cfg.market_messages:
            # a sender is named only for its own volume: at least a tenth of the market's bound
            top = [a for a, n in per_agent.most_common(3) if n * 10 >= cfg.market_messages]
            out.append(
                Alert(
                    "message_storm",
                    Severity.HIGH,
                    tuple(sorted(top)),
                    {
                        "strength": len(msgs),
                        "per_agent": {a: {"messages": per_agent[a]} for a in sorted(top)},
                        "round": rf.round,
                        "messages": len(msgs),
                        "bound": cfg.market_messages,
                        "top_senders": dict(per_agent.most_common(3)),
                        "scope": "market",
                    },
                    (rf.round, rf.round),
                    f"{len(msgs)} messages attempted in round {rf.round} (bound {cfg.market_messages})",
                )
            )
    for agent, (n, r) in sorted(worst.items()):
        sample = [
            a for rf, (msgs, _) in zip(win, messages, strict=True) if rf.round == r for a in msgs if a.agent == agent
        ]
        out.append(
            Alert(
                "message_storm",
                Severity.MEDIUM,
                (agent,),
                {
                    "strength": n,
                    "round": r,
                    "messages": n,
                    "bound": cfg.agent_messages,
                    "scope": "agent",
                    "rejected": sum(1 for a in sample if not a.accepted),
                    "records": refs(sample),
                },
                span(win),
                f"{agent} attempted {n} messages in round {r} (bound {cfg.agent_messages})",
            )
        )
    long: dict[str, tuple[str, str, int]] = {}
    for rf in win:
        for tid, buyer, seller, moves in rf.thread_moves:
            if moves >= cfg.thread_moves:
                long[tid] = (buyer, seller, moves)
    for tid, (buyer, seller, moves) in sorted(long.items()):
        out.append(
            Alert(
                "runaway_thread",
                Severity.LOW,
                tuple(sorted({buyer, seller})),
                {"strength": moves, "thread_id": tid, "moves": moves, "bound": cfg.thread_moves},
                span(win),
                f"thread {tid} has run {moves} moves without ending (bound {cfg.thread_moves})",
            )
        )
    return out
