"""The continuous double auction of Gode and Sunder (1993).

One unit per order; only the best bid and the best ask stand; a new order replaces the
standing one on its side only if it improves it (the check ``protocols.market_rules.check_order``
refuses the rest); a bid at or above the standing ask trades at the ask's price (an ask at
or below the standing bid at the bid's price), and then the whole book is cleared.

Traders hold unit schedules: buyers trade their highest values first, sellers their lowest
costs first. A period lasts ``period_rounds`` rounds; at its end the book is cleared and
every trader's units are restored, as in the experiments.

Mapping onto the session's round: in Gode and Sunder each step one randomly chosen trader
with units left submits an order. Here each round every trader may submit one order, and
the session applies the round's orders one at a time in a seeded random permutation, each
against the book as it stands then. A round is therefore a sweep of single-trader steps in
random order (drawn without replacement within the round). Zero-intelligence orders do not
depend on the book, so deciding on the round-start view changes nothing for them; an order
that names a unit already traded is refused as stale.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import partial
from operator import itemgetter
from typing import Any

from protocols.actions import ActionBase, PlaceOrder
from protocols.constraints import ProtocolConfig, check_identity, check_suspended
from protocols.dialogue import Deadlines
from protocols.limits import check_halt, check_halt_trading, check_throttle
from protocols.market_rules import Order, check_order, order_verdict, price_verdict
from protocols.money import MICROS_PER_UNIT, to_micros
from protocols.policy import IncentivePolicy
from protocols.protocol import Protocol
from protocols.settlement import account
from protocols.verdict import ACCEPTED, Verdict
from sandbox.ledger import Ledger
from sandbox.market import Deal, Market, Member
from sandbox.mechanisms.order_book import FullBook
from sandbox.mechanisms.spec import DoubleAuctionSpec
from sandbox.mechanisms.trades import trade_now

OrderPath = Callable[[ActionBase, str, IncentivePolicy], "tuple[Verdict, Deal | None] | None"]
"""A market's check-and-apply of an action: its verdict and any deal, or None (take the general path)."""

PASS_WHEN_PLAIN = frozenset({check_identity, check_suspended, check_throttle, check_halt, check_halt_trading})
"""Checks that pass (return None) on an order of a known agent acting as itself, not suspended or
throttled, with nothing halted: the conditions ``check_and_place`` tests before deciding itself."""

_SUBMIT = Protocol.submit
_ORDER_FIELDS = itemgetter("sender", "type", "side", "service", "price", "unit")
_PROBE = PlaceOrder(side="buy", service="probe", price=1.0)
_READ_HERE = frozenset(
    {"apply", "next_unit", "book_top", "available_micros", "is_agent", "is_suspended", "action_cap_of"}
    | {"nothing_halted", "is_halted", "note_applied"}
)  # methods the checks and apply call that ``check_and_place`` reads past: an instance may not replace them


class DoubleAuctionMarket(Market):
    """Order books per service with the Gode-Sunder rules, and trading periods."""

    mechanism = "double_auction"

    @classmethod
    def from_spec(
        cls, spec: Any, ledger: Ledger, deadlines: Deadlines, *, seed: int, rounds: int, policy: IncentivePolicy
    ) -> DoubleAuctionMarket:
        """The auction for ``spec``; periods are counted over the run's ``rounds``."""
        return cls(ledger, deadlines, spec, rounds)

    def __init__(self, ledger: Ledger, deadlines: Deadlines, spec: DoubleAuctionSpec, rounds_total: int) -> None:
        super().__init__(ledger, deadlines)
        self.spec = spec
        self.rounds_total = rounds_total
        self.books: dict[str, list[Order | None]] = {}  # service -> [bid, ask] (Gode-Sunder book)
        self.full: dict[str, FullBook] = {}  # service -> full book (book: full)
        self.book_rule = spec.book  # read by protocols.market_rules.check_order
        self.traded: dict[tuple[str, str], int] = {}  # (agent, service) -> units traded this period
        self.periods: list[dict[str, Any]] = []
        self._period_surplus = 0
        self._period_trades = 0
        self._seq = 0
        self._accounts: dict[str, str] = {}  # agent -> its ledger account (``_account``)

    # --- MechanismView ---------------------------------------------------------------
    def book_top(self, service: str) -> tuple[Order | None, Order | None]:
        """The standing bid and ask."""
        if self.book_rule == "full":
            return self.full[service].top() if service in self.full else (None, None)
        bid, ask = self.books.get(service, (None, None))
        return bid, ask

    def _schedule(self, m: Member, service: str) -> list[float]:
        sched = m.private.schedule.get(service)
        if sched:
            return sched
        if service in m.private.values:
            return [m.private.values[service]] * m.private.demand
        if service in m.private.costs:
            return [m.private.costs[service]] * m.private.capacity
        return []

    def next_unit(self, agent_id: str, service: str, side: str) -> int | None:
        """The trader's next unit, if it has one on this side."""
        m = self.members.get(agent_id)
        return None if m is None else self._unit_of(m, agent_id, service, side)

    def _unit_of(self, m: Member, agent_id: str, service: str, side: str) -> int | None:
        if (side == "buy") != (service in m.private.values):
            return None
        used = self.traded.get((agent_id, service), 0)
        sched = m.private.schedule.get(service)  # ``_schedule``'s first case, without the call
        return used if used < len(sched or self._schedule(m, service)) else None

    # --- orders and trades -----------------------------------------------------------
    def apply(self, action: ActionBase, who: str, policy: IncentivePolicy) -> tuple[str | None, Deal | None]:
        """Place an order: it trades against the other side, or stands (it improved the book)."""
        if not isinstance(action, PlaceOrder):
            return super().apply(action, who, policy)
        unit = self.next_unit(who, action.service, action.side)
        assert unit is not None, "check_order lets only traders with units left place orders"
        return None, self._place(action.service, who, action.side, to_micros(action.price), unit, policy)

    def order_path(self, protocol: Protocol) -> OrderPath | None:
        """``check_and_place`` with the settings ``protocol`` checks orders with, when what it runs on an
        order here is ``check_order`` and checks among ``PASS_WHEN_PLAIN`` only; None otherwise (a user's
        check, a limit that reads the order, a protocol or market whose methods were replaced)."""
        if type(self) is not DoubleAuctionMarket or not _READ_HERE.isdisjoint(vars(self)):
            return None
        if type(protocol).submit is not _SUBMIT or "submit" in vars(protocol):
            return None
        steps = protocol.steps(_PROBE, self.mechanism)
        found = [settings for fn, settings in steps if fn is check_order]
        if len(found) != 1 or any(fn is not check_order and fn not in PASS_WHEN_PLAIN for fn, _ in steps):
            return None
        return partial(self.check_and_place, found[0])

    def check_and_place(
        self, cfg: ProtocolConfig, action: ActionBase, who: str, policy: IncentivePolicy
    ) -> tuple[Verdict, Deal | None] | None:
        """``Protocol.submit`` of an order, then, if accepted, ``note_applied`` and ``apply``, in one pass:
        the member, its next unit, the price and the book read once. For a plain order (``PlaceOrder``
        of plain field values) of a known agent acting as itself, not suspended or throttled, with
        nothing halted (every check of ``PASS_WHEN_PLAIN`` passes), the verdict is ``check_order``'s
        (``order_verdict``, the same rules and reasons); anything else returns None, for the general path."""
        if type(action) is not PlaceOrder:
            return None
        m = self.members.get(who)
        try:  # the fields' values, from the instance's dict: what reading each (a pydantic model's slower read) gives
            sender, kind, side, svc, p, u = _ORDER_FIELDS(action.__dict__)
        except KeyError:  # a field gone from the instance (reading it would raise): the general path
            return None
        if (
            type(kind) is not str  # an odd type value: the protocol's plain plan decides
            or kind != "place_order"
            or m is None
            or m.suspended
            or m.action_cap is not None
            or self.__dict__.get("_halted")  # ``halted`` without its property call: the set, made when first halted
            or (sender is not None and sender != who)
            or type(p) is not float
            or type(svc) is not str
            or (side != "buy" and side != "sell")
            or (u is not None and type(u) is not int)
        ):
            return None
        if not math.isfinite(p) or not cfg.min_price <= p <= cfg.max_price:
            return price_verdict(p, cfg), None  # type: ignore[return-value]  # not None for a price outside the band
        full = self.book_rule == "full"
        book = None if full else self.books.get(svc)
        bid, ask = self.book_top(svc) if full else book or (None, None)
        unit: int | None = None  # ``_unit_of``, inline
        if (side == "buy") == (svc in m.private.values):
            used = self.traded.get((who, svc), 0)
            sched = m.private.schedule.get(svc)
            unit = used if used < len(sched or self._schedule(m, svc)) else None
        price = round(p * MICROS_PER_UNIT)  # ``to_micros`` of a finite price
        have = (  # ``available_micros``, its account name made once
            self.ledger.balances.get(self._accounts.get(who) or self._account(who), 0) if side == "buy" else 0
        )
        verdict = order_verdict(action, who, price, unit, bid, ask, have, full)
        if verdict is not None:
            return verdict, None
        assert unit is not None
        self.note_order(who)
        if full:
            return ACCEPTED, self._place(svc, who, side, price, unit, policy)
        self._seq += 1  # ``_place``, inline: the book and its standing orders as read above
        if side == "buy":
            if ask is not None and price >= ask.price:
                return ACCEPTED, self._trade(svc, who, ask.agent, ask.price, policy)
        elif bid is not None and price <= bid.price:
            if self.ledger.balances.get(self._accounts.get(bid.agent) or self._account(bid.agent), 0) >= bid.price:
                return ACCEPTED, self._trade(svc, bid.agent, who, bid.price, policy)
            assert book is not None
            book[0] = None  # the bidder can no longer pay (fined since): its bid lapses
        if book is None:
            book = self.books[svc] = [None, None]
        book[0 if side == "buy" else 1] = Order(who, price, unit, self._seq)
        return ACCEPTED, None

    def _account(self, who: str) -> str:
        """``settlement.account(who)``, made once per agent (``available_micros`` without its calls)."""
        found = self._accounts.get(who)
        if found is None:
            found = self._accounts[who] = account(who)
        return found

    def _place(self, svc: str, who: str, side: str, price: int, unit: int, policy: IncentivePolicy) -> Deal | None:
        book = self.books.get(svc)
        if book is None:
            book = self.books[svc] = [None, None]
        bid, ask = book
        self._seq += 1
        if self.book_rule == "full":
            return self._apply_full(svc, who, side, Order(who, price, unit, self._seq), policy)
        if side == "buy" and ask is not None and price >= ask.price:
            return self._trade(svc, who, ask.agent, ask.price, policy)
        if side == "sell" and bid is not None and price <= bid.price:
            if self.available_micros(bid.agent) >= bid.price:
                return self._trade(svc, bid.agent, who, bid.price, policy)
            book[0] = None  # the bidder can no longer pay (fined since): its bid lapses
        book[0 if side == "buy" else 1] = Order(who, price, unit, self._seq)
        return None

    def _apply_full(self, svc: str, who: str, side: str, order: Order, policy: IncentivePolicy) -> Deal | None:
        """Full book: trade against the best crossing order, else rest (price-time priority)."""
        book = self.full.setdefault(svc, FullBook())
        other = "sell" if side == "buy" else "buy"
        while True:
            best = book.top()[1 if side == "buy" else 0]
            crosses = best is not None and (order.price >= best.price if side == "buy" else order.price <= best.price)
            if not crosses:
                book.rest(side, order)
                return None
            assert best is not None
            book.pop_best(other)
            buyer, seller = (who, best.agent) if side == "buy" else (best.agent, who)
            if self.available_micros(buyer) >= best.price:
                book.remove(who)  # the trader's earlier order was for the unit that trades now
                return self._trade(svc, buyer, seller, best.price, policy)
            # the standing bidder can no longer pay: its bid lapses and the next one is tried

    def _trade(self, svc: str, buyer: str, seller: str, price: int, policy: IncentivePolicy) -> Deal:
        bm, sm = self.members[buyer], self.members[seller]
        bu, su = self.traded.get((buyer, svc), 0), self.traded.get((seller, svc), 0)
        value, cost = to_micros(self._schedule(bm, svc)[bu]), to_micros(self._schedule(sm, svc)[su])
        deal = trade_now(self, buyer, seller, svc, price, policy, listing_id=f"book:{svc}", value=value, cost=cost)
        if self.book_rule != "full":
            self.books[svc] = [None, None]  # Gode-Sunder: the book is cleared after every trade
        for m, side_units in ((bm, bu + 1), (sm, su + 1)):
            self.traded[(m.id, svc)] = side_units
            self._show_next_unit(m, svc)
        self._period_surplus += value - cost
        self._period_trades += 1
        return deal

    def _show_next_unit(self, m: Member, svc: str) -> None:
        """Keep the member's visible value or cost on its next unit, and its units left."""
        used = self.traded.get((m.id, svc), 0)
        sched = self._schedule(m, svc)
        nxt = sched[min(used, len(sched) - 1)]
        if svc in m.private.values:
            m.private.values = {**m.private.values, svc: nxt}
            m.units_committed = used
        else:
            m.private.costs = {**m.private.costs, svc: nxt}
            m.units_listed = used

    # --- periods ---------------------------------------------------------------------
    def period_of(self, round_: int) -> int:
        """The period a round belongs to (1-based)."""
        return (round_ - 1) // self.spec.period_rounds + 1

    def n_periods(self) -> int:
        """Periods in the planned run (a last partial period counts as a period)."""
        return math.ceil(self.rounds_total / self.spec.period_rounds)

    def period_max_surplus(self) -> float:
        """The competitive-equilibrium surplus of one period."""
        return super().max_surplus()

    def max_surplus(self) -> float:
        """The most surplus the whole run allows: one period's, times the number of periods."""
        return self.period_max_surplus() * self.n_periods()

    def run_deadlines(self, policy: IncentivePolicy) -> list[Deal]:
        """At a period's last round: record its efficiency, clear the books, refill every trader."""
        deals = super().run_deadlines(policy)
        if self.round % self.spec.period_rounds == 0 or self.round == self.rounds_total:
            best = to_micros(self.period_max_surplus())
            self.periods.append(
                {
                    "period": self.period_of(self.round),
                    "trades": self._period_trades,
                    "surplus": self._period_surplus / 1e6,
                    "max_surplus": best / 1e6,
                    "efficiency": self._period_surplus / best if best > 0 else None,
                }
            )
            self._period_surplus = self._period_trades = 0
            self.books.clear()
            self.full.clear()
            self.traded.clear()
            for m in self.members.values():
                for svc in (*m.private.values, *m.private.costs):
                    self._show_next_unit(m, svc)
        return deals

    # --- observations, metrics, summary ------------------------------------------------
    def board_for(self, member: Member) -> dict[str, Any]:
        """The book tops of the member's services and where the period stands."""
        out: dict[str, Any] = {}
        for svc in (*member.private.values, *member.private.costs):
            bid, ask = self.book_top(svc)
            side = "buy" if svc in member.private.values else "sell"
            out[svc] = {
                "best_bid": None if bid is None else bid.price / 1e6,
                "best_ask": None if ask is None else ask.price / 1e6,
                "your_next_unit": self.next_unit(member.id, svc, side),
            }
        p = self.spec.period_rounds
        return {"book": out, "period": self.period_of(self.round + 1), "rounds_left_in_period": p - (self.round % p)}

    def round_facts(self) -> dict[str, Any]:
        """The period of the round and, at a period's end, its efficiency."""
        facts = super().round_facts()
        facts["period"] = self.period_of(self.round)
        if (
            self.periods
            and self.periods[-1]["period"] == facts["period"]
            and (self.round % self.spec.period_rounds == 0 or self.round == self.rounds_total)
        ):
            facts["period_efficiency"] = self.periods[-1]["efficiency"]
        return facts

    def summary(self) -> dict[str, Any]:
        """Efficiency of every finished period."""
        effs = [p["efficiency"] for p in self.periods if p["efficiency"] is not None]
        return {
            "periods": list(self.periods),
            "mean_period_efficiency": sum(effs) / len(effs) if effs else None,
        }
