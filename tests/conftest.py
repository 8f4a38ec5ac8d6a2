"""Shared test set-up. Keep it small: fixtures for one area belong in that area's test files.

The real-provider guard: tests run offline, so any socket connection to an address outside
loopback fails at once with ``RealProviderCallError`` naming the address, instead of hanging
on a DNS lookup or silently spending money on a real model provider.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import settings

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

# Property and fuzz tests draw the same examples on every run, so the suite's outcome never
# depends on chance; AGORA_HYPOTHESIS_PROFILE=explore draws new ones (to look for new bugs).
settings.register_profile("deterministic", derandomize=True, database=None)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("AGORA_HYPOTHESIS_PROFILE", "deterministic"))
for _key in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY", "MISTRAL_API_KEY", "GROQ_API_KEY"):
    os.environ.pop(_key, None)  # a key in the developer's shell must not turn a test into a paid call


def _fresh_postgres_schema() -> str | None:
    """Point AGORA_TEST_PG_URL at a new, empty schema for this test session.

    The machine's test database outlives sessions, and tables an older version created would
    lack today's columns; each session gets a schema of its own, dropped when it ends.
    """
    url = os.environ.get("AGORA_TEST_PG_URL")
    if not url or "search_path" in url:
        return None
    import uuid

    from sqlalchemy import create_engine, text

    name = f"agora_test_{uuid.uuid4().hex[:12]}"
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text(f"CREATE SCHEMA {name}"))
    except Exception as err:  # an unreachable server: leave the URL, the PostgreSQL tests will say why
        print(f"conftest: could not create a PostgreSQL schema for the tests: {err}")
        return None
    finally:
        engine.dispose()
    os.environ["AGORA_TEST_PG_URL"] = f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{name}"
    return name


_PG_SCHEMA = _fresh_postgres_schema()
_PG_BASE_URL = os.environ.get("AGORA_TEST_PG_URL", "").split("?")[0]


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Drop this session's PostgreSQL schema."""
    if _PG_SCHEMA is None:
        return
    from sqlalchemy import create_engine, text

    engine = create_engine(_PG_BASE_URL)
    with engine.begin() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {_PG_SCHEMA} CASCADE"))
    engine.dispose()


class RealProviderCallError(RuntimeError):
    """A test tried to reach a real model provider (or any host off this machine)."""


def _loopback(address: Any) -> bool:
    if not isinstance(address, tuple) or not address:
        return True  # unix sockets and the like stay on this machine
    host = str(address[0])
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


_real_connect = socket.socket.connect
_real_getaddrinfo = socket.getaddrinfo
_THIS_HOST = socket.gethostname()
_real_connect_ex = socket.socket.connect_ex


BLOCKED: list[str] = []
"""Addresses the guard refused during the current test (a library may swallow the error)."""


def _guarded_connect(self: socket.socket, address: Any) -> Any:
    # a UDP connect sends nothing (libraries use it to learn their own address); streams are what reach providers
    if not _loopback(address) and (self is None or self.type != socket.SOCK_DGRAM):
        BLOCKED.append(repr(address))
        raise RealProviderCallError(
            f"a test tried to reach {address!r}, off this machine (a real model provider?); tests must use "
            "model 'scripted/...' or the loopback stand-in server (agents.llm.model_server)"
        )
    return _real_connect(self, address)


def _guarded_connect_ex(self: socket.socket, address: Any) -> Any:
    if not _loopback(address):
        _guarded_connect(self, address)
    return _real_connect_ex(self, address)


def _guarded_getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
    name = host.decode() if isinstance(host, bytes) else host
    if name is None or name in ("localhost", _THIS_HOST) or str(name).endswith(".localhost"):
        return _real_getaddrinfo(host, *args, **kwargs)
    try:
        ipaddress.ip_address(str(name).split("%")[0])  # a literal address: connect() decides
    except ValueError:
        _guarded_connect(None, (name, args[0] if args else 0))  # type: ignore[arg-type]
    return _real_getaddrinfo(host, *args, **kwargs)


@pytest.fixture(autouse=True, scope="session")
def real_provider_guard() -> Iterator[None]:
    """Active in every test: connections outside loopback raise ``RealProviderCallError``."""
    socket.socket.connect = _guarded_connect  # type: ignore[method-assign]
    socket.socket.connect_ex = _guarded_connect_ex  # type: ignore[method-assign]
    socket.getaddrinfo = _guarded_getaddrinfo
    try:
        yield
    finally:
        socket.socket.connect = _real_connect  # type: ignore[method-assign]
        socket.socket.connect_ex = _real_connect_ex  # type: ignore[method-assign]
        socket.getaddrinfo = _real_getaddrinfo


@pytest.fixture(autouse=True)
def no_real_provider_calls(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fails a test that tried to leave the machine, even if the library it called swallowed the error."""
    BLOCKED.clear()
    yield
    if BLOCKED and "expect_blocked_call" not in request.fixturenames:
        tried = ", ".join(sorted(set(BLOCKED)))
        BLOCKED.clear()
        pytest.fail(
            f"this test tried to reach {tried}, off this machine (a real model provider?); use model "
            "'scripted/...' or the loopback stand-in server",
            pytrace=False,
        )


@pytest.fixture()
def expect_blocked_call() -> Iterator[list[str]]:
    """For tests of the guard itself: the addresses refused during the test."""
    yield BLOCKED
