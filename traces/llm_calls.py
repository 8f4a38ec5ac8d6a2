"""The ``llm_calls`` table: every model call an LLM agent made, and what stopped the others.

One row per attempt (retries included), per budget stop and per turn given up. A replay
answers each call from ``response_json`` by ``request_hash``; the chat span of the call
carries the same hash (``agora.llm.request_hash``). The tool definitions are stored on an
agent's first call only (``tools_json``); later rows keep their hash (``tools_sha256``).

``llm_call_journal`` holds each paid call as it returns, in its own small transaction, so a
run killed mid-round keeps the calls it paid for. The round's commit adopts them: it writes
the round's ``llm_calls`` rows and deletes the round's journal rows in the same transaction
(``Store.commit_round`` clears tables marked ``info={"journal": True}``). What is left in the
journal after a kill is the round in progress: ``agora resume`` answers those calls from it
instead of calling the model again, and ``agora traces`` lists them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import Column, Index, Text, insert, select
from sqlmodel import Field, SQLModel

from traces.redact import redact_rows
from traces.store import Store


class LLMCallRow(SQLModel, table=True):
    """One model call attempt (``event='call'``), budget stop (``budget``) or turn given up (``gave_up``)."""

    __tablename__ = "llm_calls"
    __table_args__ = (
        Index("ix_llm_calls_hash", "run_id", "request_hash"),
        Index("ix_llm_calls_fault", "run_id", "fault"),
    )

    run_id: str = Field(primary_key=True)
    round: int = Field(primary_key=True)
    agent_id: str = Field(primary_key=True)
    seq: int = Field(primary_key=True, description="order of the agent's records within the round")
    attempt: int = Field(description="model answer number within the turn (repairs count, retries do not)")
    event: str = Field(description="call, budget or gave_up")
    model: str
    request_hash: str = Field(description="sha256 of model, messages, tools and sampling parameters")
    messages_json: str = Field(sa_column=Column(Text, nullable=False))
    params_json: str = Field(sa_column=Column(Text, nullable=False))
    tools_sha256: str = ""
    tools_json: str | None = Field(default=None, sa_column=Column(Text))
    response_json: str | None = Field(default=None, sa_column=Column(Text))
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    latency_ms: float = Field(default=0.0, description="from sending the request to having the answer")
    queue_ms: float = Field(default=0.0, description="time spent waiting for a place under the in-flight cap")
    fault: str | None = Field(default=None, description="fault kind (agents.llm.calls.FAULTS), None when clean")
    error: str | None = Field(default=None, sa_column=Column(Text))


def llm_calls(store: Store, run_id: str) -> Iterator[dict[str, Any]]:
    """A run's call records in order (round, agent, seq)."""
    q = (
        select(LLMCallRow.__table__)  # type: ignore[attr-defined]
        .where(LLMCallRow.__table__.c.run_id == run_id)  # type: ignore[attr-defined]
        .order_by("round", "agent_id", "seq")
    )
    with store.engine.connect() as conn:
        result = conn.execute(q)
        keys = list(result.keys())  # once: a mapping row rebuilds its keys on every dict(row)
        for row in result:
            yield dict(zip(keys, row, strict=True))


class LLMCallJournalRow(SQLModel, table=True):
    """A paid call written as it returned, before its round commits (the round's commit deletes it)."""

    __tablename__ = "llm_call_journal"
    __table_args__ = (Index("ix_llm_call_journal_run", "run_id", "round"), {"info": {"journal": True}})

    id: int | None = Field(default=None, primary_key=True, description="order of writing")
    run_id: str
    round: int
    agent_id: str
    seq: int
    attempt: int
    event: str
    model: str
    request_hash: str
    messages_json: str = Field(sa_type=Text)
    params_json: str = Field(sa_type=Text)
    tools_sha256: str = ""
    tools_json: str | None = Field(default=None, sa_type=Text)
    response_json: str | None = Field(default=None, sa_type=Text)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    latency_ms: float = 0.0
    queue_ms: float = 0.0
    fault: str | None = None
    error: str | None = Field(default=None, sa_type=Text)


def journal_call(store: Store, run_id: str, round_: int, row: dict[str, Any]) -> None:
    """Write one paid call to the journal now, in its own transaction (keys redacted as everywhere)."""
    full = {"run_id": run_id, "round": round_, **row}
    redact_rows([full])
    with store.engine.begin() as conn:
        conn.execute(insert(LLMCallJournalRow.__table__), [full])  # type: ignore[attr-defined]


def journal(store: Store, run_id: str, after_round: int = 0) -> list[dict[str, Any]]:
    """The journal's calls of rounds after ``after_round`` (the round in progress), in the order written."""
    t = LLMCallJournalRow.__table__  # type: ignore[attr-defined]
    q = select(t).where(t.c.run_id == run_id, t.c.round > after_round).order_by(t.c.id)
    with store.engine.connect() as conn:
        return [dict(r) for r in conn.execute(q).mappings()]
