"""The app's own safety: who may write, and whether the app is reachable beyond this machine.

Bound to loopback (what ``agora ui`` does by default) anyone at this machine may write with a
name. Bound elsewhere, every write also needs the operator token from ``AGORA_OPERATOR_TOKEN``;
without that variable set, writes are off.
"""

from __future__ import annotations

import hmac
import os

from ui import keys

LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


def bound_to_loopback(address: str | None) -> bool:
    """Whether a server address is reachable only from this machine (unset means every interface)."""
    return (address or "").strip() in LOOPBACK


def write_refusal(address: str | None, author: str, given_token: str | None, expected_token: str | None) -> str | None:
    """Why a write is refused, in one sentence, or ``None`` when it may go ahead."""
    if not author.strip():
        return "Enter your name in the sidebar: every write records who made it."
    if bound_to_loopback(address):
        return None
    if not expected_token:
        return (
            f"The app is reachable beyond this machine and {keys.TOKEN_ENV} is not set, so writes are off; "
            "restart with that variable set or bind to 127.0.0.1."
        )
    if not given_token or not hmac.compare_digest(given_token.encode(), expected_token.encode()):
        return "Enter the operator token in the sidebar: the app is reachable beyond this machine."
    return None


def expected_token() -> str | None:
    """The operator token from the environment, if any."""
    return os.environ.get(keys.TOKEN_ENV) or None
