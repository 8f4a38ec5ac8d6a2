"""Posted prices: sellers set a price (``set_price``); buyers buy one unit at it (``buy_now``).

With a ``demand:`` section the buyers are a mass of simulated consumers with logit demand
(Calvano et al. 2020): at the end of every round each firm sells ``size * q_i`` at its
posted price, and the round's collusion index compares the firms' mean profit with the
one-shot Nash and joint-monopoly profits, which are computed once, numerically.
Revenue is minted from ``external`` (the consumers are outside the market) and production
cost is burnt into it, each as its own ledger entry.
"""

from __future__ import annotations

from typing import Any

from protocols import settlement
from protocols.actions import ActionBase, BuyNow, SetPrice
from protocols.dialogue import Deadlines
from protocols.logit import LogitDemand, collusion_index, monopoly_prices, nash_prices
from protocols.money import to_micros
from protocols.policy import IncentivePolicy
from protocols.settlement import EXTERNAL, Posting
from protocols.state import Listing
from sandbox.ledger import Ledger
from sandbox.market import Deal, Market, Member
from sandbox.mechanisms.spec import LogitDemandSpec, PostedPriceSpec
from sandbox.mechanisms.trades import trade_now


class PostedPriceMarket(Market):
    """One listing per seller and service, at a price the seller sets; buyers take it or leave it."""

    mechanism = "posted_price"

    @classmethod
    def from_spec(
        cls, spec: Any, ledger: Ledger, deadlines: Deadlines, *, seed: int, rounds: int, policy: IncentivePolicy
    ) -> PostedPriceMarket:
        """The posted-price market for ``spec``."""
        return cls(ledger, deadlines, spec)

    def __init__(self, ledger: Ledger, deadlines: Deadlines, spec: PostedPriceSpec | None = None) -> None:
        super().__init__(ledger, deadlines)
        self.demand_spec: LogitDemandSpec | None = spec.demand if spec else None
        self._bench: dict[str, Any] | None = None
        self.price_log: list[dict[str, float]] = []
        self.lowest_seen: dict[str, float] = {}
        self.index_log: list[float] = []
        self._board: dict[str, Any] = {}
        self._board_round = -1

    def listing_of(self, seller: str, service: str) -> Listing | None:
        """The seller's listing of a service, if it has set a price."""
        return next((li for li in self.members[seller].listings.values() if li.service == service), None)

    def apply(self, action: ActionBase, who: str, policy: IncentivePolicy) -> tuple[str | None, Deal | None]:
        """Set a price (creating the listing the first time) or buy one unit at the posted price."""
        if isinstance(action, SetPrice):
            li = self.listing_of(who, action.service)
            if li is None:
                m = self.members[who]
                self._listing_seq += 1
                li = Listing(
                    f"L{self._listing_seq}", who, action.service, "", 0, max(m.private.capacity, 1), 0, self.round
                )
                self.listings[li.id] = m.listings[li.id] = li
                m.units_listed = li.capacity
            li.ask_micros = to_micros(action.price)
            return None, None
        if isinstance(action, BuyNow):
            li = self.listings[action.listing_id]
            buyer, seller = self.members[who], self.members[li.seller]
            buyer.units_committed += 1
            li.reserved += 1
            within = buyer.units_committed <= buyer.private.demand
            value = to_micros(buyer.private.values.get(li.service, 0.0)) if within else 0
            cost = to_micros(seller.private.costs.get(li.service, 0.0))
            return None, trade_now(
                self, who, li.seller, li.service, li.ask_micros, policy, listing_id=li.id, value=value, cost=cost
            )
        return super().apply(action, who, policy)

    # --- logit demand (Bertrand) ------------------------------------------------------
    def firms(self) -> list[str]:
        """The sellers, in id order (the order of ``a`` in the demand section)."""
        return sorted(aid for aid, m in self.members.items() if m.role == "seller")

    def demand_model(self) -> LogitDemand:
        """The logit demand of the scenario over the current firms."""
        spec = self.demand_spec
        assert spec is not None
        firms = self.firms()
        a = spec.a if isinstance(spec.a, list) else [spec.a] * len(firms)
        if len(a) != len(firms):
            raise ValueError(
                f"demand.a lists {len(a)} qualities but the market has {len(firms)} firms; give one per firm"
            )
        c = [next(iter(self.members[f].private.costs.values()), 0.0) for f in firms]
        return LogitDemand(tuple(float(x) for x in a), tuple(c), spec.a0, spec.mu)

    def benchmarks(self) -> dict[str, Any]:
        """One-shot Nash and joint-monopoly prices and profits (computed once)."""
        if self._bench is None:
            d = self.demand_model()
            pn, pm = nash_prices(d), monopoly_prices(d)
            prn, prm = d.profits(pn), d.profits(pm)
            self._bench = {
                "nash_prices": pn,
                "monopoly_prices": pm,
                "nash_profit": sum(prn) / len(prn),
                "monopoly_profit": sum(prm) / len(prm),
                "nash_profits": prn,
                "monopoly_profits": prm,
            }
        return self._bench

    def _consumers_buy(self) -> dict[str, Any]:
        """Logit consumers buy from every firm that posted a price; returns the round's facts."""
        d, firms = self.demand_model(), self.firms()
        posted = {f: self.listing_of(f, next(iter(self.members[f].private.costs), "")) for f in firms}
        if any(li is None for li in posted.values()):
            return {}
        prices = [posted[f].ask_micros / 1e6 for f in firms]  # type: ignore[union-attr]
        q, profits = d.quantities(prices), d.profits(prices)
        size = self.demand_spec.size  # type: ignore[union-attr]
        for f, p, qi, ci in zip(firms, prices, q, d.c, strict=True):
            revenue = to_micros(p * qi * size)
            self.ledger.post_all(
                [Posting(EXTERNAL, settlement.account(f), revenue, "sales")] if revenue > 0 else [], self.round, ref=f
            )
            burn = min(to_micros(ci * qi * size), self.available_micros(f))
            self.ledger.post_all(
                [Posting(settlement.account(f), EXTERNAL, burn, "production_cost")] if burn > 0 else [],
                self.round,
                ref=f,
            )
            self.lowest_seen[f] = min(self.lowest_seen.get(f, p), p)
        b = self.benchmarks()
        mean_profit = sum(profits) / len(profits)
        idx = collusion_index(mean_profit, b["nash_profit"], b["monopoly_profit"])
        self.index_log.append(idx)
        self.price_log.append(dict(zip(firms, prices, strict=True)))
        # each firm's own figures, so a detector can judge a firm by what it did, not by the average
        per_firm = {
            f: {
                "price": p,
                "profit": pr,
                "nash_price": b["nash_prices"][i],
                "monopoly_price": b["monopoly_prices"][i],
                "nash_profit": b["nash_profits"][i],
                "monopoly_profit": b["monopoly_profits"][i],
            }
            for i, (f, p, pr) in enumerate(zip(firms, prices, profits, strict=True))
        }
        return {
            "posted_mean_price": sum(prices) / len(prices),
            "mean_profit": mean_profit,
            "collusion_index": idx,
            "firms": per_firm,
        }

    def run_deadlines(self, policy: IncentivePolicy) -> list[Deal]:
        """End of round: the simulated consumers buy, when the scenario has them."""
        deals = super().run_deadlines(policy)
        self._facts = self._consumers_buy() if self.demand_spec is not None else {}
        return deals

    def board_for(self, member: Member) -> dict[str, Any]:
        """Last round's posted prices; with logit demand, its parameters and the benchmarks."""
        if self.demand_spec is None:  # buyers see listings; the board keeps only the 24 lowest prices
            if self._board_round != self.round:  # boards are built before any action of the round
                cheapest = sorted(self.listings.values(), key=lambda li: (li.ask_micros, li.id))[:24]
                self._board = {"posted_prices": {li.id: li.ask_micros / 1e6 for li in cheapest}}
                self._board_round = self.round
            return self._board
        prices = {li.seller: li.ask_micros / 1e6 for li in self.listings.values()}
        d, b = self.demand_model(), self.benchmarks()
        return {
            "posted_prices": prices,
            "firms": self.firms(),
            "demand": {"a": list(d.a), "c": list(d.c), "a0": d.a0, "mu": d.mu, "size": self.demand_spec.size},
            "nash_prices": b["nash_prices"],
            "monopoly_prices": b["monopoly_prices"],
            "lowest_price_seen": dict(self.lowest_seen),
        }

    def round_facts(self) -> dict[str, Any]:
        """Flows, and with logit demand the round's mean price, profit and collusion index."""
        return {**super().round_facts(), **getattr(self, "_facts", {})}

    def summary(self) -> dict[str, Any]:
        """Benchmarks and the collusion index over the run and over its last half."""
        if self.demand_spec is None or not self.index_log:
            return {}
        b = self.benchmarks()
        half = self.index_log[len(self.index_log) // 2 :]
        last = self.price_log[-1]
        return {
            "nash_price": [round(p, 4) for p in b["nash_prices"]],
            "monopoly_price": [round(p, 4) for p in b["monopoly_prices"]],
            "nash_profit": round(b["nash_profit"], 6),
            "monopoly_profit": round(b["monopoly_profit"], 6),
            "last_prices": {k: round(v, 4) for k, v in last.items()},
            "collusion_index": sum(self.index_log) / len(self.index_log),
            "collusion_index_last_half": sum(half) / len(half),
        }
