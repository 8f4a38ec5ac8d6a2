"""The app's own safety: who may write, and whether the app is reachable beyond this machine.

With operators configured (``AGORA_OPERATORS="ann:token1,rob:token2"`` or a file named by
``AGORA_OPERATORS_FILE`` with one ``name token`` per line), every write needs a known token
and is made by the operator it maps to, on loopback or not. Without them, bound to loopback
(what ``agora ui`` does by default) anyone at this machine may write with a name; bound
elsewhere, a write also needs the shared token of ``AGORA_OPERATOR_TOKEN`` (older setups), and
without either writes are off.
"""

from __future__ import annotations

import hmac
import os
from pathlib import Path

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


def operators(environ: dict[str, str] | None = None) -> dict[str, str]:
    """Operator tokens mapped to names, from ``AGORA_OPERATORS`` and the file ``AGORA_OPERATORS_FILE``.

    Raises ``ValueError`` (one sentence) on an entry without both a name and a token.
    """
    env = os.environ if environ is None else environ
    entries: list[tuple[str, str]] = []
    for item in (env.get(keys.OPERATORS_ENV) or "").split(","):
        if item.strip():
            name, sep, token = item.strip().partition(":")
            if not sep or not name.strip() or not token.strip():
                raise ValueError(f"{keys.OPERATORS_ENV} entries are name:token separated by commas, not {item!r}")
            entries.append((name.strip(), token.strip()))
    path = env.get(keys.OPERATORS_FILE_ENV)
    if path:
        for n, line in enumerate(Path(path).read_text().splitlines(), start=1):
            if line.strip() and not line.lstrip().startswith("#"):
                parts = line.split()
                if len(parts) != 2:
                    raise ValueError(f"{path} line {n}: write one 'name token' per line")
                entries.append((parts[0], parts[1]))
    return {token: name for name, token in entries}


def operator_for(given_token: str | None, known: dict[str, str]) -> str | None:
    """The operator a token belongs to (compared in constant time), or None."""
    if not given_token:
        return None
    found = None
    for token, name in known.items():
        if hmac.compare_digest(given_token.encode(), token.encode()):
            found = name
    return found


def identify(
    address: str | None, typed_name: str, given_token: str | None, known: dict[str, str], shared_token: str | None
) -> tuple[str, str | None]:
    """Who is writing and, in one sentence, why the write is refused (``None``: it may go ahead)."""
    if known:
        name = operator_for(given_token, known)
        if name is not None:
            return name, None
        if given_token:
            return "", "That operator token is not known: enter your own token in the sidebar."
        return "", "Enter your operator token in the sidebar: every write is made by a named operator."
    return typed_name.strip(), write_refusal(address, typed_name, given_token, shared_token)
