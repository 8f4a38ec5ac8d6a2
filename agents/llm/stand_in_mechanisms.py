"""The stand-in model's strategies beyond bilateral negotiation: one scripted trader per mechanism and role.

The stand-in (``agents.llm.scripted_model``) plays a bilateral strategy (``zi_c``, ``zi_u``,
``markup_seller``, ``budget_buyer``, ``colluder``) named by the model string or the persona.
In another mechanism those strategies have nothing to say, so the strategy is mapped to the
mechanism's own scripted trader for the agent's role, keeping its character where the
mechanism has one (``zi_u`` stays unconstrained in the double auction; the colluder holds
the monopoly price under logit demand). A strategy named outright that is not a bilateral
one (e.g. ``marketic_truthful``) is played as it is, whatever the mechanism.
"""

from __future__ import annotations

from collections.abc import Callable

from agents.base import Agent
from agents.observation import Observation
from agents.posted_traders import AuctionSeller, PostedBuyer, PostedSeller, SealedBidder
from agents.pricers import BestResponder, GrimTrigger
from agents.traders import BlindBuyer, Idle, InspectingBuyer, MatchBuyer, OutcomeSeller, ZICTrader, ZIUTrader

BILATERAL_STRATEGIES = frozenset({"zi_c", "zi_u", "markup_seller", "budget_buyer", "colluder"})


def _double_auction(obs: Observation, strategy: str) -> type[Agent]:
    return ZIUTrader if strategy == "zi_u" else ZICTrader


def _posted_price(obs: Observation, strategy: str) -> type[Agent]:
    if "firms" in obs.market.board:  # logit consumers buy: the firms play Bertrand
        return GrimTrigger if strategy == "colluder" else BestResponder
    return PostedBuyer if obs.role == "buyer" else PostedSeller


def _sealed_bid(obs: Observation, strategy: str) -> type[Agent]:
    return SealedBidder if obs.role == "buyer" else AuctionSeller


def _intermediary(obs: Observation, strategy: str) -> type[Agent]:
    return MatchBuyer if obs.role == "buyer" else OutcomeSeller


def _information(obs: Observation, strategy: str) -> type[Agent]:
    if obs.role != "buyer":
        return Idle
    return BlindBuyer if strategy == "zi_u" else InspectingBuyer


StandInPick = Callable[[Observation, str], type[Agent]]

MECHANISM_STRATEGIES: dict[str, StandInPick] = {
    "double_auction": _double_auction,
    "posted_price": _posted_price,
    "sealed_bid": _sealed_bid,
    "intermediary": _intermediary,
    "information": _information,
}
"""For each mechanism other than bilateral: (observation, stand-in strategy) -> the trader to play."""


def register_stand_in_trader(mechanism: str, pick: StandInPick) -> None:
    """Name the scripted trader the offline stand-in model plays in a (newly registered) mechanism."""
    MECHANISM_STRATEGIES[mechanism] = pick


def mechanism_trader(obs: Observation, strategy: str) -> type[Agent] | None:
    """The scripted trader the stand-in plays for ``strategy`` in the observation's mechanism.

    None when the bilateral strategy applies as it is: in a bilateral market, or when the
    strategy is not a bilateral one.
    """
    pick = MECHANISM_STRATEGIES.get(obs.market.mechanism)
    if pick is None or strategy not in BILATERAL_STRATEGIES:
        return None
    return pick(obs, strategy)
