"""Ledger instructions that follow from market events, computed without touching a ledger.

``sandbox`` applies them. Accounts are named by convention: ``agent:<id>`` for agents and
the fixed accounts below. Each posting moves a positive integer amount from one account
to another, so every instruction list balances by construction.
"""

from __future__ import annotations

from dataclasses import dataclass

from protocols.money import share, to_micros
from protocols.policy import IncentivePolicy
from protocols.quick_init import quick_init

EXTERNAL = "external"  # the world outside the market: mints come from it, burns go to it
ESCROW = "escrow"
TREASURY = "treasury"  # where fees go


def account(agent_id: str) -> str:
    """The ledger account of an agent."""
    return f"agent:{agent_id}"


@quick_init
@dataclass(frozen=True, slots=True)
class Posting:
    """Move ``amount`` micro-units from ``source`` to ``dest``; ``kind`` says why."""

    source: str
    dest: str
    amount: int
    kind: str


def escrow_on_accept(buyer: str, price: int) -> list[Posting]:
    """The buyer's payment moves into escrow when a deal is accepted."""
    return [Posting(account(buyer), ESCROW, price, "escrow")]


def refund(buyer: str, escrowed: int) -> list[Posting]:
    """Escrow goes back to the buyer (expiry of an undelivered deal)."""
    return [Posting(ESCROW, account(buyer), escrowed, "refund")] if escrowed > 0 else []


def fine(agent_id: str, amount: int, balance: int) -> list[Posting]:
    """A fine is burnt; it never takes more than the agent holds (no overdraft)."""
    taken = min(amount, max(balance, 0))
    return [Posting(account(agent_id), EXTERNAL, taken, "fine")] if taken > 0 else []


def endowment(agent_id: str, amount: int) -> list[Posting]:
    """Money minted for an agent's starting budget."""
    return [Posting(EXTERNAL, account(agent_id), amount, "endowment")] if amount > 0 else []


# --- the full policy: fees, taxes, subsidies, rewards and outcome-based payment -------------

TAX = "tax"  # posting kind of taxes; they are burnt into EXTERNAL like fines


def quadratic_score(forecast: float, outcome: float) -> float:
    """The quadratic (Brier) score ``1 - (forecast - outcome)**2``, in [0, 1] for inputs in [0, 1].

    It is proper: for an outcome drawn at random, the forecast with the highest expected
    score is the outcome's expectation.
    """
    return 1.0 - (forecast - outcome) ** 2


def outcome_share(policy: IncentivePolicy, outcome: float | None, claim: float | None) -> float:
    """The share of the escrowed price the seller is paid (1.0 unless outcome payment applies).

    With no outcome (the buyer never reported) the seller is paid in full: silence is consent.
    """
    rule = policy.outcome_payment
    if not rule.enabled or outcome is None:
        return 1.0
    claim_term = quadratic_score(claim, outcome) if claim is not None else outcome
    s = (1.0 - rule.claim_weight) * outcome + rule.claim_weight * claim_term
    return min(max(rule.base_share + (1.0 - rule.base_share) * s, 0.0), 1.0)


@quick_init
@dataclass(frozen=True, slots=True)
class SettlementPlan:
    """The postings that settle one escrowed deal, with the amounts broken out (micro-units)."""

    postings: tuple[Posting, ...]
    payout: int  # the seller's share of the price, before fee and tax
    fee: int
    tax: int
    refund: int
    subsidy: int
    reward: int
    bonus: int

    @property
    def seller_net(self) -> int:
        """What the seller receives from escrow (payout less fee and tax)."""
        return self.payout - self.fee - self.tax


def settle(
    buyer: str,
    seller: str,
    escrowed: int,
    policy: IncentivePolicy,
    *,
    outcome: float | None = None,
    claim: float | None = None,
    report: float | None = None,
    verification: float | None = None,
) -> SettlementPlan:
    """Settle an escrowed deal under ``policy``; the escrow is always emptied.

    Order: the seller's payout (``outcome_share`` of the price) less the fee (percentage
    plus fixed, never more than the payout) and the tax; the rest of the escrow is refunded
    to the buyer. Then what is minted from ``EXTERNAL``: the subsidy, the outcome reward
    (``outcome_reward * outcome``) to the seller, and the buyer's report bonus when a
    verification draw exists (``report_bonus * quadratic_score(report, verification)``).
    """
    payout = min(share(escrowed, outcome_share(policy, outcome, claim)), escrowed)
    fee = min(share(payout, policy.fee_rate) + to_micros(policy.fee_fixed), payout)
    tax = min(share(payout, policy.tax_rate), payout - fee)
    refund_amount = escrowed - payout
    subsidy = to_micros(policy.subsidy)
    reward = to_micros(policy.outcome_reward * outcome) if outcome is not None else 0
    bonus = 0
    if report is not None and verification is not None:
        bonus = to_micros(policy.outcome_payment.report_bonus * quadratic_score(report, verification))
    moves = [
        (ESCROW, account(seller), payout - fee - tax, "release"),
        (ESCROW, TREASURY, fee, "fee"),
        (ESCROW, EXTERNAL, tax, TAX),
        (ESCROW, account(buyer), refund_amount, "refund"),
        (EXTERNAL, account(seller), subsidy, "subsidy"),
        (EXTERNAL, account(seller), reward, "reward"),
        (EXTERNAL, account(buyer), bonus, "report_bonus"),
    ]
    postings = tuple(Posting(s, d, a, k) for s, d, a, k in moves if a > 0)
    return SettlementPlan(postings, payout, fee, tax, refund_amount, subsidy, reward, bonus)


def update_reputation(current: float | None, score: float, policy: IncentivePolicy) -> float:
    """A seller's reputation after one outcome score (exponential moving average from the prior)."""
    rule = policy.reputation
    start = rule.prior if current is None else current
    return (1.0 - rule.alpha) * start + rule.alpha * min(max(score, 0.0), 1.0)


def rank_price(ask: float, reputation: float | None, policy: IncentivePolicy) -> float:
    """The price a listing is ranked by for buyers: ``ask * (1 + weight * (1 - reputation))``."""
    rule = policy.reputation
    rep = rule.prior if reputation is None else reputation
    return ask * (1.0 + rule.weight * (1.0 - rep))
