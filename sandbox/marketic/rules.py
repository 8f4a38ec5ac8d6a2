"""Payment rules: who pays whom when the state changes hands, as ledger postings.

At every step the current state is auctioned. The winner buys it from its owner (the
winner of the previous step, or the world at the first step), acts, and collects the
environment's reward. Writing ``b1``/``b2`` for the highest/second-highest bid at a step and
``gamma`` for the task's discount, the winner at step t has utility

- bucket brigade (Holland):   r_t + gamma * b1_{t+1} - b1_t   (first price, paid to the seller)
- Vickrey (Chang et al.):     r_t + gamma * b1_{t+1} - b2_t   (second price; credited the next top bid)
- credit-conserving Vickrey:  r_t + gamma * b2_{t+1} - b2_t   (second price; credited what the buyer pays)

What the buyer pays (``price``) and what the seller is credited (``receipt``, the bid named in
the third term, undiscounted) become postings in integer micro-units. ``gamma`` is the
primitives' time preference, not a tax: money received one step later is worth ``gamma`` now
to the seller, which is why its utility (and its learning target) discounts the receipt,
while the ledger moves the whole amount. The buyer's payment goes to the seller up to the
receipt. If the receipt exceeds the payment, which only the plain Vickrey rule allows
(credited the top bid, the buyer pays the second), the gap is minted from the world as a
``subsidy`` posting. So bucket brigade and credit-conserving Vickrey only move money between
primitives, while plain Vickrey needs an outside source of money: its subsidies are visible in
the ledger and counted in the metrics. At the first step the world sells the state and the
payment leaves the society (``buy_from_world``). At a terminal state nobody buys, so the last
winner is credited nothing beyond the reward. A primitive that wins two steps running buys
from itself: that transfer is not posted (it would net to zero); a subsidy still is.

Environment rewards are minted from the world to the winner; a negative reward (the grid's
pit) is burnt from the winner, never more than it holds.
"""

from __future__ import annotations

from dataclasses import dataclass

from protocols.auctions import AuctionResult, SealedBid, first_price, second_price
from protocols.settlement import EXTERNAL, Posting, account


@dataclass(frozen=True)
class PaymentRule:
    """A payment rule: the auction the buyer faces and which bid the seller is credited with."""

    name: str
    price: str  # "first" or "second": what the winner pays
    credit: str  # "first" or "second": which bid of the next step the previous winner is credited
    summary: str

    def clear(self, bids: list[SealedBid]) -> AuctionResult:
        """Clear one step's auction under this rule (ties go to the earlier bid)."""
        return first_price(bids) if self.price == "first" else second_price(bids)

    def credited_bid(self, result: AuctionResult) -> int:
        """The bid of this step (micro-units) that the previous winner is credited with, before discount."""
        return result.first if self.credit == "first" else result.second


RULES: dict[str, PaymentRule] = {
    "bucket_brigade": PaymentRule(
        "bucket_brigade", "first", "first", "winner pays its own bid to the previous winner (Holland)"
    ),
    "vickrey": PaymentRule(
        "vickrey",
        "second",
        "first",
        "winner pays the second bid; previous winner credited the top bid (not conserving)",
    ),
    "ccv": PaymentRule(
        "ccv",
        "second",
        "second",
        "credit-conserving Vickrey: previous winner receives what the winner pays (Chang et al.)",
    ),
}


def get_rule(name: str) -> PaymentRule:
    """A payment rule by name."""
    try:
        return RULES[name]
    except KeyError:
        raise ValueError(f"unknown payment rule {name!r}; choose one of {', '.join(RULES)}") from None


def receipt(rule: PaymentRule, result: AuctionResult) -> int:
    """What the seller of the state is credited when ``result`` clears (micro-units)."""
    return rule.credited_bid(result)


def sale_postings(rule: PaymentRule, result: AuctionResult, seller: str | None) -> list[Posting]:
    """Postings for the winner buying the state from ``seller`` (None: the world sells the first state)."""
    if result.winner is None:
        return []
    buyer = account(result.winner)
    paid = result.price
    if seller is None:
        return [Posting(buyer, EXTERNAL, paid, "buy_from_world")] if paid > 0 else []
    owed = receipt(rule, result)
    moved = min(paid, owed)  # equal to paid: every rule credits at least what the buyer pays
    out = []
    # A primitive that buys the state it just produced pays itself: nothing moves for that part.
    if moved > 0 and seller != result.winner:
        out.append(Posting(buyer, account(seller), moved, "state_sale"))
    if owed - moved > 0:
        out.append(Posting(EXTERNAL, account(seller), owed - moved, "subsidy"))
    return out


def reward_postings(winner: str, reward: int, balance_after_sale: int) -> list[Posting]:
    """The environment pays ``reward`` micro-units to the winner (a negative reward is burnt, capped by wealth)."""
    if reward > 0:
        return [Posting(EXTERNAL, account(winner), reward, "reward")]
    taken = min(-reward, max(balance_after_sale, 0))
    return [Posting(account(winner), EXTERNAL, taken, "penalty")] if taken > 0 else []
