"""Ledger instructions that follow from market events, computed without touching a ledger.

``sandbox`` applies them. Accounts are named by convention: ``agent:<id>`` for agents and
the fixed accounts below. Each posting moves a positive integer amount from one account
to another, so every instruction list balances by construction.
"""

from __future__ import annotations

from dataclasses import dataclass

from protocols.money import share
from protocols.policy import IncentivePolicy

EXTERNAL = "external"  # the world outside the market: mints come from it, burns go to it
ESCROW = "escrow"
TREASURY = "treasury"  # where fees go


def account(agent_id: str) -> str:
    """The ledger account of an agent."""
    return f"agent:{agent_id}"


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


def release_on_settle(seller: str, escrowed: int, policy: IncentivePolicy) -> list[Posting]:
    """Escrow goes to the seller, less the fee, which goes to the treasury."""
    fee = min(share(escrowed, policy.fee_rate), escrowed)
    out = []
    if escrowed - fee > 0:
        out.append(Posting(ESCROW, account(seller), escrowed - fee, "release"))
    if fee > 0:
        out.append(Posting(ESCROW, TREASURY, fee, "fee"))
    return out


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
