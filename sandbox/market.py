"""The live market: ``MarketBase`` (what every mechanism is) and ``Market`` (bilateral negotiation).

``MarketBase`` is the live state every mechanism shares (members, listings, threads, the
ledger) and the ``MarketView`` the protocol reads; a mechanism subclasses it and implements
its abstract methods. ``Market`` is the bilateral services market (listings, threads,
inboxes), and the base of the mechanisms that reuse its negotiation and settlement. Nothing
here decides legality: that is ``protocols``' job; this module only changes state and books.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from agents.observation import InboxMessage, Private
from protocols import settlement
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
from protocols.market_rules import Order
from protocols.money import to_micros
from protocols.policy import IncentivePolicy
from protocols.quick_init import quick_init
from protocols.state import Listing, Thread, ThreadState
from protocols.trusted import field_or_none
from sandbox.ledger import Ledger
from sandbox.market_activity import SafetyViewMixin
from sandbox.metrics import max_surplus

if TYPE_CHECKING:
    from protocols.protocol import Protocol

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
    reputation: float | None = None  # None until the first outcome report
    notices: deque[str] = field(default_factory=lambda: deque(maxlen=8))
    inbox: deque[InboxMessage] = field(default_factory=lambda: deque(maxlen=8))
    threads: dict[str, Thread] = field(default_factory=dict)  # live threads only
    listings: dict[str, Listing] = field(default_factory=dict)

    @property
    def account(self) -> str:
        """The member's ledger account."""
        return settlement.account(self.id)


@quick_init
@dataclass(frozen=True, slots=True)
class Deal:
    """A thread that ended with money moving: ``settled`` or ``refunded``."""

    thread: Thread
    status: str
    price: int
    fee: int
    round: int
    value: int | None = None  # the unit's value and cost when the mechanism knows them (schedules)
    cost: int | None = None


class MarketBase(SafetyViewMixin, ABC):
    """Live market state shared by every mechanism; implements ``protocols.state.MarketView``.

    A mechanism (registered with ``sandbox.mechanisms.registry.register_mechanism``) subclasses
    this class (or ``Market`` to reuse bilateral negotiation) and:

    - must set ``mechanism`` to its registered name and implement ``apply`` (carry out an
      accepted action) and ``run_deadlines`` (the end of each round: expiries, clearing);
    - overrides ``from_spec`` when it takes settings from its scenario spec;
    - may override ``board_for`` (what a member sees of it), ``round_facts`` (facts for the
      metrics; its registered ``metrics`` are read from here), ``summary`` (run figures) and
      ``max_surplus`` (the efficiency denominator);
    - overrides the ``MechanismView`` queries its checks read (``book_top``, ``next_unit``,
      ``sells``, ``auction_open``, ``match_for``); the defaults here say "none".
    """

    mechanism: ClassVar[str] = ""

    def __init__(self, ledger: Ledger, deadlines: Deadlines | None = None, inbox_size: int = 8) -> None:
        self.ledger = ledger
        self.deadlines = deadlines or Deadlines()
        self.members: dict[str, Member] = {}
        self.listings: dict[str, Listing] = {}
        self.threads: dict[str, Thread] = {}
        self.live: dict[str, Thread] = {}
        self.recent_prices: dict[str, deque[float]] = {}
        self.round = 0
        self.policy = IncentivePolicy()  # the policy in force; the session keeps it current
        self._inbox_size = inbox_size
        self._listing_seq = 0
        self._thread_seq = 0

    @classmethod
    def from_spec(
        cls, spec: Any, ledger: Ledger, deadlines: Deadlines, *, seed: int, rounds: int, policy: IncentivePolicy
    ) -> MarketBase:
        """The live market for a scenario's ``mechanism:`` section (``spec``, of the registered spec model)."""
        return cls(ledger, deadlines)

    # --- MarketView -----------------------------------------------------------
    def is_agent(self, agent_id: str) -> bool:
        return agent_id in self.members

    def is_suspended(self, agent_id: str) -> bool:
        m = self.members.get(agent_id)
        return m is not None and m.suspended

    def available_micros(self, agent_id: str) -> int:
        return self.ledger.balances.get(settlement.account(agent_id), 0)

    def listing(self, listing_id: str) -> Listing | None:
        return self.listings.get(listing_id)

    def thread(self, thread_id: str) -> Thread | None:
        return self.threads.get(thread_id)

    def unlisted_capacity(self, agent_id: str) -> int:
        """Units a seller may still put on listings."""
        m = self.members.get(agent_id)
        return 0 if m is None else m.private.capacity - m.units_listed

    # --- MechanismView defaults: no book, auctions or matches ----------------------------
    def book_top(self, service: str) -> tuple[Order | None, Order | None]:
        """The standing bid and ask of a service (none here)."""
        return None, None

    def next_unit(self, agent_id: str, service: str, side: str) -> int | None:
        """Index of the agent's next unit to trade (from its demand or capacity)."""
        m = self.members.get(agent_id)
        if m is None:
            return None
        total, used = (m.private.demand, m.units_committed) if side == "buy" else (m.private.capacity, m.units_listed)
        known = m.private.values if side == "buy" else m.private.costs
        return used if service in known and used < total else None

    def sells(self, agent_id: str, service: str) -> bool:
        """Whether the agent has a cost for (sells) this service."""
        m = self.members.get(agent_id)
        return m is not None and service in m.private.costs

    def auction_open(self, listing_id: str) -> bool:
        """Whether a listing takes sealed bids (never, here)."""
        return False

    def match_for(self, agent_id: str, service: str, max_price: int) -> Listing | None:
        """The listing an intermediary would match (no intermediary here)."""
        return None

    def order_path(self, protocol: Protocol) -> Callable[[ActionBase, str, IncentivePolicy], Any] | None:
        """A mechanism's check-and-apply in one pass for its common action under ``protocol``: called with
        (action, submitter, policy), it returns what ``Protocol.submit`` and ``apply`` would give, as
        (verdict, deal), or None for an action it leaves to them. None here: every action takes them."""
        return None

    # --- what mechanisms add to observations, metrics and the summary ----------------
    def board_for(self, member: Member) -> dict[str, Any]:
        """Mechanism state ``member`` may see (the bilateral market shows listings instead)."""
        return {}

    def round_facts(self) -> dict[str, Any]:
        """Facts of the round for the metrics: money flows by posting kind (micro-units)."""
        flows: dict[str, int] = {}
        for e in self.ledger.pending:
            flows[e.kind] = flows.get(e.kind, 0) + e.amount
        return {"flows": flows}

    def max_surplus(self) -> float:
        """The most surplus the members' values and costs allow (competitive equilibrium)."""
        buyers: list[tuple[str, float, int]] = []
        sellers: list[tuple[str, float, int]] = []
        for m in self.members.values():
            for side, known, units in (
                (buyers, m.private.values, m.private.demand),
                (sellers, m.private.costs, m.private.capacity),
            ):
                for s, v in known.items():
                    sched = m.private.schedule.get(s)
                    side.extend([(s, x, 1) for x in sched] if sched else [(s, v, units)])
        return max_surplus(buyers, sellers)

    def summary(self) -> dict[str, Any]:
        """Mechanism-specific run figures for the summary (none for the bilateral market)."""
        return {}

    def reputation_of(self, agent_id: str) -> float | None:
        """A member's reputation (None before any report)."""
        m = self.members.get(agent_id)
        return None if m is None else m.reputation

    # --- membership -------------------------------------------------------------
    def join(self, member: Member) -> None:
        """Register an agent and mint its endowment."""
        member.inbox = deque(maxlen=self._inbox_size)
        self.members[member.id] = member
        self.ledger.post_all(settlement.endowment(member.id, member.endowment), self.round, ref=member.id)

    def escrow_expected(self) -> int:
        """What escrow must hold: the price of every accepted, undelivered or unreported deal."""
        return sum(t.escrow_micros for t in self.live.values())

    def _notify(self, t: Thread, text: str) -> None:
        for side in (t.buyer, t.seller):
            self.members[side].notices.append(text)

    # --- what a mechanism must implement --------------------------------------------
    @abstractmethod
    def apply(self, action: ActionBase, who: str, policy: IncentivePolicy) -> tuple[str | None, Deal | None]:
        """Carry out an action the protocol accepted; return the thread it touched and any deal it ended."""

    @abstractmethod
    def run_deadlines(self, policy: IncentivePolicy) -> list[Deal]:
        """End of round: expire, clear or settle what is due; return the deals that moved money."""


class Market(MarketBase):
    """The bilateral negotiation market, and the base of the mechanisms that reuse its threads."""

    mechanism = "bilateral"

    # --- applying accepted actions -------------------------------------------------
    def apply(self, action: ActionBase, who: str, policy: IncentivePolicy) -> tuple[str | None, Deal | None]:
        """Carry out an accepted action; return the thread it touched and any deal it ended."""
        r = self.round
        if isinstance(action, PostService):
            self._listing_seq += 1
            lid = f"L{self._listing_seq}"
            listing = Listing(
                lid, who, action.service, action.description, to_micros(action.ask_price), action.capacity, 0, r
            )
            self.listings[lid] = listing
            self.members[who].listings[lid] = listing
            self.members[who].units_listed += action.capacity
            return None, None
        if isinstance(action, Message):
            self._deliver_message(action, who)
            return action.thread_id, None
        if isinstance(action, (RequestQuote, MakeOffer)) and field_or_none(action, "thread_id") is None:
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
        t = Thread(
            f"T{self._thread_seq}",
            listing_id,
            buyer,
            listing.seller,
            listing.service,
            S.QUOTE_REQUESTED,
            self.round,
            self.round,
        )
        self.threads[t.id] = self.live[t.id] = t
        self.members[buyer].threads[t.id] = t
        self.members[listing.seller].threads[t.id] = t
        return t

    def _accept(self, t: Thread) -> None:
        assert t.price_micros is not None
        self.ledger.post_all(settlement.escrow_on_accept(t.buyer, t.price_micros), self.round, ref=t.id)
        t.state, t.escrow_micros, t.accepted_round = S.ACCEPTED, t.price_micros, self.round
        self.listings[t.listing_id].reserved += 1
        self.members[t.buyer].units_committed += 1

    def _end(self, t: Thread, state: ThreadState) -> None:
        t.state = state
        self.live.pop(t.id, None)
        for side in (t.buyer, t.seller):
            self.members[side].threads.pop(t.id, None)

    def _settle(self, t: Thread, policy: IncentivePolicy, verification: float | None = None) -> Deal:
        plan = settlement.settle(
            t.buyer,
            t.seller,
            t.escrow_micros,
            policy,
            outcome=t.score,
            claim=t.quality,
            report=t.score,
            verification=verification,
        )
        self.ledger.post_all(plan.postings, self.round, ref=t.id)
        fee = plan.fee
        price, t.escrow_micros = t.escrow_micros, 0
        if t.score is not None:
            seller = self.members[t.seller]
            seller.reputation = settlement.update_reputation(seller.reputation, t.score, policy)
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
        self.members[to].inbox.append(
            InboxMessage(round=self.round, sender=who, thread_id=msg.thread_id, text=msg.text)
        )

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
                    self.ledger.post_all(settlement.refund(t.buyer, refunded), self.round, ref=t.id)
                    t.escrow_micros = 0
                    self.listings[t.listing_id].reserved -= 1
                    self.members[t.buyer].units_committed -= 1
                    deals.append(Deal(t, "refunded", refunded, 0, self.round))
                self._end(t, S.EXPIRED)
                self._notify(t, f"thread {t.id} expired (no move in time)")
        return deals
