"""Scripted pricers for repeated Bertrand competition with logit demand (Calvano et al. 2020).

Each reads its observation's board in a posted-price market with logit demand: the demand
parameters, every firm's posted price of last round, the lowest price each firm has ever
posted, and the one-shot Nash and joint-monopoly prices the market computed. None keeps
state between rounds, so a run can be replayed or forked from any round.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from agents.base import Agent
from agents.observation import Observation
from protocols.actions import ActionBase, SetPrice
from protocols.logit import LogitDemand, best_response


class Pricer(Agent):
    """Shared mechanics: find my service and index; subclasses choose the price."""

    def price(self, obs: Observation, board: dict[str, Any], me: int) -> float:
        """This round's price."""
        raise NotImplementedError

    def decide(self, obs: Observation) -> Sequence[ActionBase]:
        """Post one price for my product."""
        board = obs.market.board
        if not obs.private.costs or "firms" not in board:
            return []
        me = board["firms"].index(obs.agent_id)
        p = min(max(self.price(obs, board, me), obs.market.min_price), obs.market.max_price)
        return [SetPrice(service=sorted(obs.private.costs)[0], price=round(p, 6))]

    @staticmethod
    def rivals_last(board: dict[str, Any], me: int) -> list[float]:
        """Rivals' prices of last round (empty in the first round)."""
        firms, posted = board["firms"], board.get("posted_prices", {})
        return [posted[f] for i, f in enumerate(firms) if i != me and f in posted]


class FixedPricer(Pricer):
    """Always posts the same price (``price``; default the monopoly price)."""

    kind = "fixed_price"
    description = "Bertrand firm: posts a fixed price every round (param price; default the joint-monopoly price)."

    def price(self, obs: Observation, board: dict[str, Any], me: int) -> float:
        return float(self.params.get("price", board["monopoly_prices"][me]))


class BestResponder(Pricer):
    """Posts the one-shot best response to the rivals' prices of last round (Nash in round 1)."""

    kind = "best_responder"
    description = "Bertrand firm: best response to rivals' last prices under the known logit demand."

    def price(self, obs: Observation, board: dict[str, Any], me: int) -> float:
        firms, posted = board["firms"], board.get("posted_prices", {})
        if len(posted) < len(firms):
            return float(board["nash_prices"][me])
        d = board["demand"]
        model = LogitDemand(tuple(d["a"]), tuple(d["c"]), d["a0"], d["mu"])
        return best_response(model, [posted[f] for f in firms], me)


class TitForTat(Pricer):
    """Starts at the monopoly price, then matches the lowest rival price of last round (never above monopoly)."""

    kind = "tit_for_tat"
    description = "Bertrand firm: monopoly price first, then the lowest rival price of last round, capped at monopoly."

    def price(self, obs: Observation, board: dict[str, Any], me: int) -> float:
        mono = float(board["monopoly_prices"][me])
        rivals = self.rivals_last(board, me)
        return min([mono, *rivals])


class GrimTrigger(Pricer):
    """Posts the monopoly price until any rival ever undercuts it (by ``tolerance``), then Nash forever."""

    kind = "grim_trigger"
    description = "Bertrand firm: monopoly price until a rival has ever priced below it, then the Nash price for good."

    def price(self, obs: Observation, board: dict[str, Any], me: int) -> float:
        mono, nash = float(board["monopoly_prices"][me]), float(board["nash_prices"][me])
        tol = float(self.params.get("tolerance", 0.01))
        lowest = board.get("lowest_price_seen", {})
        firms = board["firms"]
        betrayed = any(
            lowest.get(f, mono) < float(board["monopoly_prices"][i]) - tol for i, f in enumerate(firms) if i != me
        )
        return nash if betrayed else mono


PRICERS: tuple[type[Agent], ...] = (FixedPricer, BestResponder, TitForTat, GrimTrigger)
