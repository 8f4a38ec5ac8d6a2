"""Sealed-bid auction clearing as pure functions: first price and second price (Vickrey).

Bids are integer micro-units (``protocols.money``). Ties are broken deterministically by
the order in which the bids are given: among equal amounts the earlier bid ranks higher.
A caller that wants fair tie-breaking passes the bids in a seeded random order; a caller
that wants a stable rule passes them sorted (say, by bidder id). Nothing here draws random
numbers, reads a clock or touches a ledger: the result says who wins and what the winner
pays, and ``sandbox`` moves the money.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class AuctionError(ValueError):
    """A bid that the auction cannot take (negative, not an integer, or a duplicate bidder)."""


@dataclass(frozen=True, slots=True)
class SealedBid:
    """One bidder's sealed bid for the item, in micro-units."""

    bidder: str
    amount: int


@dataclass(frozen=True, slots=True)
class AuctionResult:
    """The outcome of one sealed-bid auction.

    ``ranking`` lists every bid from highest to lowest (ties in the order given).
    ``winner`` is None when no bid reached the reserve. ``first`` and ``second`` are the
    highest and second-highest amounts among bids that reached the reserve (``second`` is
    the reserve when only one did). ``price`` is what the winner pays under the rule used.
    """

    ranking: tuple[SealedBid, ...]
    winner: str | None
    first: int
    second: int
    price: int
    rule: str


def validate_bids(bids: Sequence[SealedBid]) -> None:
    """Raise ``AuctionError`` unless every amount is a non-negative int and bidders are distinct."""
    seen: set[str] = set()
    for b in bids:
        if type(b.amount) is not int or b.amount < 0:
            raise AuctionError(f"bid of {b.bidder!r} must be a non-negative integer of micro-units, got {b.amount!r}")
        if b.bidder in seen:
            raise AuctionError(f"{b.bidder!r} bid twice in one auction; send one bid per bidder")
        seen.add(b.bidder)


def rank_bids(bids: Sequence[SealedBid]) -> tuple[SealedBid, ...]:
    """Bids from highest to lowest; equal amounts keep the order they were given in."""
    validate_bids(bids)
    # sorted() is stable, so ties keep the caller's order: that is the tie-break rule.
    return tuple(sorted(bids, key=lambda b: -b.amount))


def _clear(bids: Sequence[SealedBid], reserve: int, rule: str) -> AuctionResult:
    if type(reserve) is not int or reserve < 0:
        raise AuctionError(f"reserve must be a non-negative integer of micro-units, got {reserve!r}")
    ranking = rank_bids(bids)
    eligible = [b for b in ranking if b.amount >= reserve]
    if not eligible:
        return AuctionResult(ranking, None, 0, 0, 0, rule)
    first = eligible[0].amount
    second = eligible[1].amount if len(eligible) > 1 else reserve
    price = first if rule == "first_price" else second
    return AuctionResult(ranking, eligible[0].bidder, first, second, price, rule)


def first_price(bids: Sequence[SealedBid], reserve: int = 0) -> AuctionResult:
    """Highest bid wins and pays its own bid."""
    return _clear(bids, reserve, "first_price")


def second_price(bids: Sequence[SealedBid], reserve: int = 0) -> AuctionResult:
    """Vickrey: highest bid wins and pays the second-highest bid (or the reserve if alone)."""
    return _clear(bids, reserve, "second_price")


@dataclass(frozen=True, slots=True)
class UnitAward:
    """One unit won in a multi-unit sealed-bid auction: the bidder and the price it pays."""

    bidder: str
    price: int


def clear_units(bids: Sequence[SealedBid], units: int, reserve: int = 0, rule: str = "second_price") -> list[UnitAward]:
    """Award ``units`` identical units, one per bidder, to the highest bids at or above ``reserve``.

    ``first_price``: each winner pays its own bid. ``second_price``: every winner pays the
    highest losing bid at or above the reserve (the (units+1)-th highest), or the reserve:
    the uniform-price generalisation of Vickrey's auction, truthful for single-unit bidders.
    For ``units == 1`` it agrees with ``first_price`` and ``second_price`` above. Ties as in
    ``rank_bids``: the earlier bid in the given order wins.
    """
    if rule not in ("first_price", "second_price"):
        raise AuctionError(f"price rule must be 'first_price' or 'second_price', got {rule!r}")
    if type(units) is not int or units < 0:
        raise AuctionError(f"units must be a non-negative integer, got {units!r}")
    if type(reserve) is not int or reserve < 0:
        raise AuctionError(f"reserve must be a non-negative integer of micro-units, got {reserve!r}")
    eligible = [b for b in rank_bids(bids) if b.amount >= reserve]
    winners, losers = eligible[:units], eligible[units:]
    if rule == "first_price":
        return [UnitAward(b.bidder, b.amount) for b in winners]
    clearing = losers[0].amount if losers else reserve
    return [UnitAward(b.bidder, clearing) for b in winners]
