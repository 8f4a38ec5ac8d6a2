"""A double-entry ledger in integer micro-units.

Every posting moves a positive amount from one account to another, so the sum of all
balances is always zero. Money enters and leaves only through the ``external`` account
(endowments, rewards and subsidies are minted from it; fines are burnt into it), and no
other account may go below zero. ``check`` verifies both at the end of every round.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

from protocols.quick_init import quick_init
from protocols.settlement import EXTERNAL, Posting


class LedgerError(RuntimeError):
    """The books do not balance, or a posting would overdraw an account."""


@quick_init
@dataclass(frozen=True, slots=True)
class Entry:
    """A posting as recorded: its sequence number, round and reference."""

    seq: int
    round: int
    source: str
    dest: str
    amount: int
    kind: str
    ref: str | None


class Ledger:
    """Balances by account and the postings not yet written to the store."""

    def __init__(self) -> None:
        self.balances: dict[str, int] = {EXTERNAL: 0}
        self.pending: list[Entry] = []
        self._seq = 0

    def balance(self, account: str) -> int:
        """The balance of ``account`` (0 if it never moved money)."""
        return self.balances.get(account, 0)

    def post(self, posting: Posting, round_: int, ref: str | None = None) -> Entry:
        """Apply one posting; refuse overdrafts of any account but ``external``."""
        amount = posting.amount
        if type(amount) is not int or amount <= 0:
            raise LedgerError(f"posting amount must be a positive integer, got {amount!r}")
        if posting.source == posting.dest:
            raise LedgerError(f"posting from {posting.source} to itself")
        src = self.balances.get(posting.source, 0)
        if posting.source != EXTERNAL and src < amount:
            raise LedgerError(f"{posting.source} holds {src} and cannot pay {amount} ({posting.kind})")
        self.balances[posting.source] = src - amount
        self.balances[posting.dest] = self.balances.get(posting.dest, 0) + amount
        self._seq += 1
        entry = Entry(self._seq, round_, posting.source, posting.dest, amount, posting.kind, ref)
        self.pending.append(entry)
        return entry

    def post_all(self, postings: Iterable[Posting], round_: int, ref: str | None = None) -> list[Entry]:
        """Apply postings in order (each is checked as it is applied)."""
        return [self.post(p, round_, ref) for p in postings]

    def drain(self) -> list[Entry]:
        """Hand over the postings made since the last drain (for the store)."""
        out, self.pending = self.pending, []
        return out

    @property
    def money_supply(self) -> int:
        """Money inside the market: everything minted minus everything burnt."""
        return -self.balances[EXTERNAL]

    def check(self, escrow_account: str | None = None, escrow_expected: int | None = None) -> None:
        """Raise ``LedgerError`` unless the books balance (and escrow matches, if given)."""
        total = sum(self.balances.values())
        if total != 0:
            raise LedgerError(f"the books do not balance: balances sum to {total}")
        negative = [a for a, b in self.balances.items() if b < 0 and a != EXTERNAL]
        if negative:
            raise LedgerError(f"accounts below zero: {', '.join(sorted(negative))}")
        if escrow_account is not None and escrow_expected is not None:
            held = self.balance(escrow_account)
            if held != escrow_expected:
                raise LedgerError(f"escrow holds {held} but open deals account for {escrow_expected}")

    def digest(self) -> str:
        """A hash of every balance, for replay to compare round by round."""
        balances = self.balances  # the lines hashed in one piece: the same hash as line by line
        return hashlib.sha256("".join([f"{a}={balances[a]};" for a in sorted(balances)]).encode()).hexdigest()
