"""The bilateral services market: listings, threads, inboxes, and the ledger they move.

``Market`` is the live state. It is the ``MarketView`` the protocol reads, and ``apply``
carries out an action the protocol has accepted. Nothing here decides legality: that is
``protocols``' job; this module only changes state and the books.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from agents.observation import InboxMessage, Private
from protocols import settlement as st
from protocols.actions import (
    Accept,
    ActionBase,
    Counter,
    Deliver,
    MakeOffer,
    Message,
    PostService,
    Reject,
    ReportOutcome,
    RequestQuote,
    Withdraw,
)
from protocols.dialogue import Deadlines, deadline
from protocols.money import to_micros
from protocols.policy import IncentivePolicy
from protocols.state import Listing, Thread, ThreadState
from sandbox.ledger import Ledger
from sandbox.market_activity import SafetyViewMixin

S = ThreadState


@dataclass
class Member:
    """An agent as the market knows it: role, private information and what it has committed."""

    id: str
    role: str
    kind: str
    private: Private
    endowment: int = 0
    units_committed: int = 0  # units bought in accepted deals not refunded (buyers)
    units_settled: int = 0
    units_listed: int = 0  # capacity put on listings (sellers)
    suspended: bool = False
    action_cap: int | None = None  # a throttle: actions per round (None: the market's cap)
    notices: deque[str] = field(default_factory=lambda: deque(maxlen=8))
    inbox: deque[InboxMessage] = field(default_factory=lambda: deque(maxlen=8))
    threads: dict[str, Thread] = field(default_factory=dict)  # live threads only
    listings: dict[str, Listing] = field(default_factory=dict)

    @property
    def account(self) -> str:
        """The member's ledger account."""
        return st.account(self.id)


@dataclass(frozen=True, slots=True)
class Deal:
    """A thread that ended with money moving: ``settled`` or ``refunded``."""

    thread: Thread
    status: str
    price: int
    fee: int
    round: int


class Market(SafetyViewMixin):
    """Live market state; implements ``protocols.state.MarketView``."""

    def __init__(self, ledger: Ledger, deadlines: Deadlines | None = None, inbox_size: int = 8) -> None:
        self.ledger = ledger
        self.deadlines = deadlines or Deadlines()
        self.members: dict[str, Member] = {}
        self.listings: dict[str, Listing] = {}
        self.threads: dict[str, Thread] = {}
        self.live: dict[str, Thread] = {}
        self.recent_prices: dict[str, deque[float]] = {}
        self.round = 0
        self._inbox_size = inbox_size
        self._listing_seq = 0
        self._thread_seq = 0

    # --- MarketView -----------------------------------------------------------
    def is_agent(self, agent_id: str) -> bool:
        return agent_id in self.members

    def is_suspended(self, agent_id: str) -> bool:
        m = self.members.get(agent_id)
        return m is not None and m.suspended

    def available_micros(self, agent_id: str) -> int:
        return self.ledger.balances.get(st.account(agent_id), 0)

    def listing(self, listing_id: str) -> Listing | None:
        return self.listings.get(listing_id)

    def thread(self, thread_id: str) -> Thread | None:
        return self.threads.get(thread_id)

    def unlisted_capacity(self, agent_id: str) -> int:
        """Units a seller may still put on listings."""
        m = self.members.get(agent_id)
        return 0 if m is None else m.private.capacity - m.units_listed

    # --- membership -------------------------------------------------------------
    def join(self, member: Member) -> None:
        """Register an agent and mint its endowment."""
        member.inbox = deque(maxlen=self._inbox_size)
        self.members[member.id] = member
        self.ledger.post_all(st.endowment(member.id, member.endowment), self.round, ref=member.id)

    def escrow_expected(self) -> int:
        """What escrow must hold: the price of every accepted, undelivered or unreported deal."""
        return sum(t.escrow_micros for t in self.live.values())

    # --- applying accepted actions -------------------------------------------------
    def apply(self, action: ActionBase, who: str, policy: IncentivePolicy) -> tuple[str | None, Deal | None]:
        """Carry out an accepted action; return the thread it touched and any deal it ended."""
        r = self.round
        if isinstance(action, PostService):
            self._listing_seq += 1
            lid = f"L{self._listing_seq}"
            listing = Listing(lid, who, action.service, action.description, to_micros(action.ask_price), action.capacity, 0, r)
            self.listings[lid] = listing
            self.members[who].listings[lid] = listing
            self.members[who].units_listed += action.capacity
            return None, None
        if isinstance(action, Message):
            self._deliver_message(action, who)
            return action.thread_id, None
        if isinstance(action, (RequestQuote, MakeOffer)) and getattr(action, "thread_id", None) is None:
            thread = self._open(action.listing_id, who)  # type: ignore[arg-type]
        else:
            thread = self.threads[action.thread_id]  # type: ignore[attr-defined]
        thread.last_move_round = r
        thread.moves += 1
        deal = None
        if isinstance(action, (MakeOffer, Counter)):
            thread.state, thread.price_micros, thread.proposer = S.OFFERED, to_micros(action.price), who
        elif isinstance(action, Accept):
            self._accept(thread)
        elif isinstance(action, (Reject, Withdraw)):
            self._end(thread, S.REJECTED if isinstance(action, Reject) else S.WITHDRAWN)
        elif isinstance(action, Deliver):
            thread.state, thread.quality, thread.delivered_round = S.DELIVERED, action.quality, r
        elif isinstance(action, ReportOutcome):
            thread.score = action.score
            deal = self._settle(thread, policy)
        return thread.id, deal

    def _open(self, listing_id: str, buyer: str) -> Thread:
        listing = self.listings[listing_id]
        self._thread_seq += 1
        t = Thread(f"T{self._thread_seq}", listing_id, buyer, listing.seller, listing.service, S.QUOTE_REQUESTED, self.round, self.round)
        self.threads[t.id] = self.live[t.id] = t
        self.members[buyer].threads[t.id] = t
        self.members[listing.seller].threads[t.id] = t
        return t

    def _accept(self, t: Thread) -> None:
        assert t.price_micros is not None
        self.ledger.post_all(st.escrow_on_accept(t.buyer, t.price_micros), self.round, ref=t.id)
        t.state, t.escrow_micros, t.accepted_round = S.ACCEPTED, t.price_micros, self.round
        self.listings[t.listing_id].reserved += 1
        self.members[t.buyer].units_committed += 1

    def _end(self, t: Thread, state: ThreadState) -> None:
        t.state = state
        self.live.pop(t.id, None)
        for side in (t.buyer, t.seller):
            self.members[side].threads.pop(t.id, None)

    def _settle(self, t: Thread, policy: IncentivePolicy) -> Deal:
        postings = st.release_on_settle(t.seller, t.escrow_micros, policy)
        self.ledger.post_all(postings, self.round, ref=t.id)
        fee = sum(p.amount for p in postings if p.kind == "fee")
        price, t.escrow_micros = t.escrow_micros, 0
        self._end(t, S.SETTLED)
        self.members[t.buyer].units_settled += 1
        self.recent_prices.setdefault(t.service, deque(maxlen=8)).append(price / 1e6)
        return Deal(t, "settled", price, fee, self.round)

    def _deliver_message(self, msg: Message, who: str) -> None:
        if msg.thread_id is not None:
            to = self.threads[msg.thread_id].other(who)
        else:
            assert msg.to is not None
            to = msg.to
        self.members[to].inbox.append(InboxMessage(round=self.round, sender=who, thread_id=msg.thread_id, text=msg.text))

    # --- end of round ------------------------------------------------------------
    def run_deadlines(self, policy: IncentivePolicy) -> list[Deal]:
        """Expire silent threads, refund undelivered deals, settle unreported deliveries."""
        deals = []
        for t in list(self.live.values()):
            nxt = deadline(t, self.round, self.deadlines)
            if nxt is S.SETTLED:
                deals.append(self._settle(t, policy))
                self._notify(t, f"thread {t.id} settled without a report after {self.deadlines.report_rounds} rounds")
            elif nxt is S.EXPIRED:
                if t.state is S.ACCEPTED:
                    refunded = t.escrow_micros
                    self.ledger.post_all(st.refund(t.buyer, refunded), self.round, ref=t.id)
                    t.escrow_micros = 0
                    self.listings[t.listing_id].reserved -= 1
                    self.members[t.buyer].units_committed -= 1
                    deals.append(Deal(t, "refunded", refunded, 0, self.round))
                self._end(t, S.EXPIRED)
                self._notify(t, f"thread {t.id} expired (no move in time)")
        return deals

    def _notify(self, t: Thread, text: str) -> None:
        for side in (t.buyer, t.seller):
            self.members[side].notices.append(text)
