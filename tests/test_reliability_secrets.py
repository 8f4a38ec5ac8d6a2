"""Secrets never stored: a fake key planted every way a run is given one, then the whole store and the OTLP output grepped.

The model server here is a loopback ``http.server`` that answers every request with a 401
quoting all the request's headers and its path, as careless providers do; the collector is a
loopback OTLP/HTTP receiver keeping the raw request bodies (protobuf keeps strings as bytes).
"""

from __future__ import annotations

import json
import logging
import pathlib
import sqlite3
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from agents.llm import LLMAgent
from sandbox import Session
from sandbox.recorder import without_secrets
from traces.otel import setup_tracing
from traces.redact import REDACTED, redact, secrets_in
from traces.store import Store

PLANTED = {
    "agent parameter api_key": "sk-param-FAKE0000000000000001",
    "OPENAI_API_KEY": "sk-env-FAKE00000000000000002",
    "ANTHROPIC_API_KEY": "sk-ant-FAKE0000000000000003",
    "extra_headers Authorization": "hdr-bearer-FAKE000000000004",
    "extra_headers X-Api-Token": "hdr-token-FAKE0000000000005",
    "password in api_base": "urlpass-FAKE000000000000006",
    "api-key in api_base query": "urlquery-FAKE00000000000007",
}


class _Echo401(BaseHTTPRequestHandler):
    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        body = json.dumps(
            {
                "error": {
                    "message": f"Incorrect API key provided; you sent {dict(self.headers)} to {self.path}",
                    "type": "invalid_request_error",
                    "code": "invalid_api_key",
                }
            }
        ).encode()
        self.send_response(401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_POST = do_GET = _answer

    def log_message(self, *args: object) -> None:  # quiet
        pass


class _Collector(BaseHTTPRequestHandler):
    bodies: list[bytes] = []

    def do_POST(self) -> None:
        self.bodies.append(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def _serve(handler: type[BaseHTTPRequestHandler]) -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def echo_server() -> Iterator[ThreadingHTTPServer]:
    yield from _serve(_Echo401)


@pytest.fixture
def collector() -> Iterator[ThreadingHTTPServer]:
    _Collector.bodies = []
    yield from _serve(_Collector)


def _everything_stored(db: str) -> tuple[bytes, list[str], int]:
    """The database's raw bytes (WAL checkpointed in), every cell as text, and how many cells."""
    con = sqlite3.connect(db)
    con.execute("pragma wal_checkpoint(TRUNCATE)")
    cells: list[str] = []
    for (table,) in con.execute("select name from sqlite_master where type='table'").fetchall():
        for row in con.execute(f'select * from "{table}"'):
            cells += [str(c) for c in row]
    con.close()
    raw = b"".join(pathlib.Path(p).read_bytes() for p in (db, db + "-wal") if pathlib.Path(p).exists())
    return raw, cells, len(cells)


def test_a_key_planted_every_way_is_found_nowhere(tmp_path, monkeypatch, echo_server, collector, caplog) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", PLANTED["OPENAI_API_KEY"])
    monkeypatch.setenv("ANTHROPIC_API_KEY", PLANTED["ANTHROPIC_API_KEY"])
    port = echo_server.server_address[1]
    plain = f"http://127.0.0.1:{port}/v1"
    db = str(tmp_path / "secrets.db")
    store = Store(db)
    tracing = setup_tracing(store, otlp_endpoint=f"http://127.0.0.1:{collector.server_address[1]}")
    s = Session(seed=2, rounds=2, store=store, tracing=tracing)
    buyer = dict(
        role="buyer", budget=100, value=(20, 60), persona="neutral", max_retries=0, timeout=20, wake="every_round"
    )
    # one buyer per way a key travels, each to the echoing server (which quotes it back in its 401)
    s.spawn(
        LLMAgent, n=1, model="openai/gpt-4o-mini", api_base=plain, api_key=PLANTED["agent parameter api_key"], **buyer
    )
    s.spawn(LLMAgent, n=1, model="openai/gpt-4o-mini", api_base=plain, **buyer)  # OPENAI_API_KEY from the environment
    s.spawn(LLMAgent, n=1, model="anthropic/claude-3-5-haiku-20241022", api_base=plain, **buyer)  # ANTHROPIC_API_KEY
    with_query = f"{plain}?api-key={PLANTED['api-key in api_base query']}"
    (headed,) = s.spawn(LLMAgent, n=1, model="openai/gpt-4o-mini", api_base=with_query, **buyer)
    s.agents[headed].settings.params["extra_headers"] = {  # type: ignore[attr-defined]
        "Authorization": f"Bearer {PLANTED['extra_headers Authorization']}",
        "X-Api-Token": PLANTED["extra_headers X-Api-Token"],
    }
    # the HTTP client refuses a password in the URL beside an Authorization header: it still lands in the settings
    with_password = f"http://agora:{PLANTED['password in api_base']}@127.0.0.1:{port}/v1"
    s.spawn(
        LLMAgent,
        n=1,
        role="seller",
        cost=(5, 20),
        capacity=2,
        persona="honest_seller",
        model="openai/gpt-4o-mini",
        api_base=with_password,
        max_retries=0,
        timeout=20,
    )
    with caplog.at_level(logging.WARNING):
        s.run()
        logging.getLogger("agora.test").warning("a careless line: %s", PLANTED["OPENAI_API_KEY"])
    raw, cells, n_cells = _everything_stored(db)
    otlp = b"".join(_Collector.bodies)
    assert n_cells > 500 and otlp, "the run wrote rows and exported spans"
    errors = [c for c in cells if "Incorrect API key" in c]
    assert errors and any(REDACTED in e for e in errors), "the 401 echo reached the record, redacted"
    assert REDACTED.encode() in otlp  # the same echo went out in the chat spans' status, redacted
    found = {
        where: [
            place
            for place, blob in (("store", raw), ("otlp", otlp), ("logs", caplog.text.encode()))
            if key.encode() in blob
        ]
        for where, key in PLANTED.items()
    }
    assert found == {where: [] for where in PLANTED}, found
    assert "a careless line: [redacted]" in caplog.text


def test_redaction_finds_keys_in_headers_urls_and_names() -> None:
    params = {
        "api_base": "https://u:pa55word-long@host/v1?sig=abcdefgh12&x=1",
        "extra_headers": {"Authorization": "Bearer tok-abcdefgh", "X-Trace": "trace-header-value"},
        "model": "openai/x",
        "max_tokens": 1000,
    }
    found = set(secrets_in(params))
    assert {"pa55word-long", "abcdefgh12", "Bearer tok-abcdefgh", "tok-abcdefgh", "trace-header-value"} <= found
    assert "openai/x" not in found
    assert redact("error: sent Bearer tok-abcdefgh", ["tok-abcdefgh"]) == "error: sent Bearer [redacted]"
    kept = without_secrets({**params, "persona": "neutral"})
    assert "extra_headers" not in kept and kept["persona"] == "neutral" and "pa55word-long" not in kept["api_base"]
