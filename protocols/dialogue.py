"""The negotiation dialogue: an explicit state machine per thread.

``TRANSITIONS`` is the whole game: for a thread state and an action, who may send it and
the state it leads to. ``None`` as a state means "no thread yet" (the move opens one).
Threads end as settled, rejected, withdrawn or expired; ``deadline`` says when time ends them.
"""

from __future__ import annotations

from dataclasses import dataclass

from protocols.state import LIVE_STATES, Thread, ThreadState
from protocols.verdict import ACCEPTED, Rule, Verdict

S = ThreadState

# (state, action type) -> (who may send it, next state); next None keeps the state.
# "proposer" made the standing offer; "responder" is the other side.
TRANSITIONS: dict[tuple[ThreadState | None, str], tuple[str, ThreadState | None]] = {
    (None, "request_quote"): ("buyer", S.QUOTE_REQUESTED),
    (None, "make_offer"): ("buyer", S.OFFERED),
    (S.QUOTE_REQUESTED, "make_offer"): ("seller", S.OFFERED),
    (S.QUOTE_REQUESTED, "reject"): ("seller", S.REJECTED),
    (S.QUOTE_REQUESTED, "withdraw"): ("buyer", S.WITHDRAWN),
    (S.OFFERED, "counter"): ("responder", S.OFFERED),
    (S.OFFERED, "accept"): ("responder", S.ACCEPTED),
    (S.OFFERED, "reject"): ("responder", S.REJECTED),
    (S.OFFERED, "withdraw"): ("proposer", S.WITHDRAWN),
    (S.ACCEPTED, "deliver"): ("seller", S.DELIVERED),
    (S.DELIVERED, "report_outcome"): ("buyer", S.SETTLED),
}
for _state in LIVE_STATES:
    TRANSITIONS[(_state, "message")] = ("participant", None)

THREAD_ACTIONS = frozenset(kind for _, kind in TRANSITIONS)


def _role_of(thread: Thread, agent: str) -> set[str]:
    roles = set()
    if agent == thread.buyer:
        roles.add("buyer")
    if agent == thread.seller:
        roles.add("seller")
    if roles:
        roles.add("participant")
        roles.add("proposer" if agent == thread.proposer else "responder")
    return roles


def allowed_moves(state: ThreadState | None) -> list[str]:
    """Action types that may follow ``state`` (for error messages and prompts)."""
    return sorted(kind for (s, kind) in TRANSITIONS if s == state)


def move(thread: Thread | None, kind: str, sender: str) -> tuple[Verdict, ThreadState | None]:
    """Check one dialogue move; return the verdict and the state the thread moves to.

    For an accepted move the second value is the next state (``None``: unchanged).
    """
    state = thread.state if thread is not None else None
    rule = TRANSITIONS.get((state, kind))
    if rule is None:
        where = f"thread {thread.id} is {state}" if thread is not None else "there is no thread yet"
        return (
            Verdict.reject(
                Rule.DIALOGUE,
                f"'{kind}' is not allowed here: {where}; allowed now: "
                f"{', '.join(allowed_moves(state)) or 'nothing (the thread has ended)'}",
            ),
            None,
        )
    who, nxt = rule
    if thread is None:
        return ACCEPTED, nxt
    roles = _role_of(thread, sender)
    if not roles:
        return (
            Verdict.reject(Rule.NOT_PARTICIPANT, f"you are not a party to thread {thread.id}"),
            None,
        )
    if who not in roles:
        if who in ("proposer", "responder"):
            why = (
                "you made the standing offer; wait for the other side or withdraw"
                if who == "responder"
                else "only the side that made the standing offer may withdraw it; reject instead"
            )
        elif who == "seller":
            return (
                Verdict.reject(
                    Rule.OWN_LISTING,
                    f"only {thread.seller}, the seller of listing {thread.listing_id}, may '{kind}' here",
                ),
                None,
            )
        else:
            why = f"only the {who} of thread {thread.id} may '{kind}' now"
        return Verdict.reject(Rule.DIALOGUE, why), None
    return ACCEPTED, nxt


@dataclass(frozen=True, slots=True)
class Deadlines:
    """How many rounds of silence end a thread in each phase."""

    offer_rounds: int = 3  # open thread with no move: expires
    delivery_rounds: int = 3  # accepted but not delivered: expires, buyer refunded
    report_rounds: int = 3  # delivered but not reported: settles without a score


def deadline(thread: Thread, round_: int, limits: Deadlines) -> ThreadState | None:
    """The state time moves ``thread`` to at the end of ``round_``, or None if none."""
    if thread.state in (S.QUOTE_REQUESTED, S.OFFERED):
        if round_ - thread.last_move_round >= limits.offer_rounds:
            return S.EXPIRED
    elif thread.state is S.ACCEPTED:
        assert thread.accepted_round is not None
        if round_ - thread.accepted_round >= limits.delivery_rounds:
            return S.EXPIRED
    elif thread.state is S.DELIVERED:
        assert thread.delivered_round is not None
        if round_ - thread.delivered_round >= limits.report_rounds:
            return S.SETTLED
    return None
