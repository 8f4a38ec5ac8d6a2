"""Extension points of the round loop: hooks, control-command handlers, and the control plane.

``Session.hooks`` holds the functions called at a round's start, at its end (after settlement,
before the commit) and after the commit (the safety layer, the tracer, live views add theirs);
``Session.control_handlers`` maps a control command's kind to the function that applies it.
``apply_control`` is step 1 of a round (docs/architecture.md): the commands the control plane
holds for the run, then the policies queued with ``Session.set_policy``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from protocols.policy import policy_diff
from sandbox.record import RoundLog
from traces.control import ControlRow, mark_applied, pending_commands
from traces.store import is_transient

if TYPE_CHECKING:
    from sandbox.session import Session

Hook = Callable[["Session", RoundLog], None]
ControlHandler = Callable[["Session", dict[str, Any], str, str], str]
"""Applies one control command (payload, author, reason); returns the outcome to record."""


@dataclass
class Hooks:
    """Extension points of the round loop (control plane, detectors, live views)."""

    round_start: list[Hook] = field(default_factory=list)
    round_end: list[Hook] = field(default_factory=list)  # after settlement, before the commit
    after_commit: list[Hook] = field(default_factory=list)


def apply_control(session: Session, log: RoundLog) -> None:
    """Apply pending control commands (marked applied at this round) and queued policies."""
    store = session.recorder.store
    commands: Sequence[ControlRow] = []
    if store is not None:
        try:
            commands = pending_commands(store, session.run_id)
        except Exception as err:  # the store is away: the commands stay pending for a later round
            if not is_transient(err):
                raise
    if store is not None:
        for cmd in commands:
            outcome = session.run_command(cmd.kind, cmd.payload_json, cmd.author, cmd.reason)
            assert cmd.id is not None
            mark_applied(store, cmd.id, log.round, outcome)
            session.tracer.control(cmd.kind, cmd.author, outcome)
    for policy, author, reason in session._pending_policy:
        changed = policy_diff(session.policy, policy)
        session.policy = session.market.policy = policy
        note = f"policy changed in round {log.round} by {author}: {json.dumps(changed, sort_keys=True)}"
        for m in session.market.members.values():
            m.notices.append(note + (f" ({reason})" if reason else ""))
        session.recorder.policy_change(log.round, policy, author, reason)
        session.tracer.policy_change(log.round, policy, author, reason, changed)
    session._pending_policy.clear()


def set_policy_command(session: Session, payload: dict[str, Any], author: str, reason: str) -> str:
    """Control command ``set_policy``: payload is the full policy, or fields to change."""
    base = session._pending_policy[-1][0] if session._pending_policy else session.policy
    session.set_policy(base.with_changes(payload), author, reason)
    return "applied"
