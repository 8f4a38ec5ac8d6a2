"""Market mechanisms: each one module (spec model + market class) plus one registration here.

The registry (``sandbox.mechanisms.registry``) joins each mechanism's protocol record
(``protocols.mechanism_table``: actions per role, checks, LLM instructions) with its spec
model and market class; ``build_market`` and the scenario's ``mechanism:`` field are derived
from it. What a market class must implement is in ``sandbox.market.MarketBase``.
"""

from __future__ import annotations

from protocols.mechanism_table import rules_of
from sandbox.market import Market
from sandbox.mechanisms.double_auction import DoubleAuctionMarket
from sandbox.mechanisms.information import InformationMarket
from sandbox.mechanisms.intermediary import IntermediaryMarket
from sandbox.mechanisms.posted_price import PostedPriceMarket
from sandbox.mechanisms.registry import MECHANISMS, Mechanism, build_market, register_mechanism
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
    "MECHANISMS",
    "BilateralSpec",
    "DoubleAuctionMarket",
    "DoubleAuctionSpec",
    "InformationMarket",
    "InformationSpec",
    "IntermediaryMarket",
    "IntermediarySpec",
    "Mechanism",
    "MechanismSpec",
    "PostedPriceMarket",
    "PostedPriceSpec",
    "SealedBidMarket",
    "SealedBidSpec",
    "build_market",
    "register_mechanism",
]


for _name, _spec, _market, _metrics in (
    ("bilateral", BilateralSpec, Market, ()),
    ("double_auction", DoubleAuctionSpec, DoubleAuctionMarket, ("period", "period_efficiency")),
    ("posted_price", PostedPriceSpec, PostedPriceMarket, ("posted_mean_price", "mean_profit", "collusion_index")),
    ("sealed_bid", SealedBidSpec, SealedBidMarket, ()),
    ("intermediary", IntermediarySpec, IntermediaryMarket, ()),
    ("information", InformationSpec, InformationMarket, ()),
):
    _rules = rules_of(_name)
    assert _rules is not None, f"protocols.mechanism_table has no record '{_name}'"
    register_mechanism(_rules, _spec, _market, metrics=_metrics)
