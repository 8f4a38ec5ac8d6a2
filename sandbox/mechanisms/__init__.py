"""Market mechanisms, picked by a scenario's ``mechanism:`` section in one place: ``build_market``.

Every mechanism is a ``sandbox.market.Market`` (the bilateral market is the base): the
session calls ``apply`` for each accepted action and ``run_deadlines`` at the end of each
round; the observer asks ``board_for`` what a member may see; the metrics read
``round_facts``; the run summary adds ``summary``.
"""

from __future__ import annotations

from protocols.dialogue import Deadlines
from protocols.policy import IncentivePolicy
from sandbox.ledger import Ledger
from sandbox.market import Market
from sandbox.mechanisms.double_auction import DoubleAuctionMarket
from sandbox.mechanisms.information import InformationMarket
from sandbox.mechanisms.intermediary import IntermediaryMarket
from sandbox.mechanisms.posted_price import PostedPriceMarket
from sandbox.mechanisms.sealed_bid import SealedBidMarket
from sandbox.mechanisms.spec import (
    BilateralSpec,
    DoubleAuctionSpec,
    InformationSpec,
    IntermediarySpec,
    MechanismSpec,
    PostedPriceSpec,
    SealedBidSpec,
)

__all__ = [
    "BilateralSpec",
    "DoubleAuctionMarket",
    "DoubleAuctionSpec",
    "InformationMarket",
    "InformationSpec",
    "IntermediaryMarket",
    "IntermediarySpec",
    "MechanismSpec",
    "PostedPriceMarket",
    "PostedPriceSpec",
    "SealedBidMarket",
    "SealedBidSpec",
    "build_market",
]


def build_market(
    spec: MechanismSpec | None,
    ledger: Ledger,
    deadlines: Deadlines,
    *,
    seed: int = 0,
    rounds: int = 1,
    policy: IncentivePolicy | None = None,
) -> Market:
    """The live market for a scenario's mechanism section (bilateral when None)."""
    market = _build(spec, ledger, deadlines, seed, rounds, policy or IncentivePolicy())
    market.policy = policy or IncentivePolicy()
    return market


def _build(
    spec: MechanismSpec | None, ledger: Ledger, deadlines: Deadlines, seed: int, rounds: int, policy: IncentivePolicy
) -> Market:
    if spec is None or isinstance(spec, BilateralSpec):
        return Market(ledger, deadlines)
    if isinstance(spec, DoubleAuctionSpec):
        return DoubleAuctionMarket(ledger, deadlines, spec, rounds)
    if isinstance(spec, PostedPriceSpec):
        return PostedPriceMarket(ledger, deadlines, spec)
    if isinstance(spec, SealedBidSpec):
        return SealedBidMarket(ledger, deadlines, spec)
    if isinstance(spec, IntermediarySpec):
        return IntermediaryMarket(ledger, deadlines, spec, seed, policy)
    if isinstance(spec, InformationSpec):
        return InformationMarket(ledger, deadlines, spec)
    raise ValueError(f"unknown mechanism {spec!r}")
