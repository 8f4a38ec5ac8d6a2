"""A round is durable or the run stops cleanly: store outages through a loopback proxy, a locked SQLite file.

The proxy is a real TCP relay in front of PostgreSQL that the test switches off and on; an
outage is made by closing every relayed connection and refusing new ones, so what the
session sees is what a network failure shows it. Nothing here waits on a clock: the store
comes back when the test says so, and retries are counted, not timed.
"""

from __future__ import annotations

import os
import socket
import sqlite3
import threading
from collections import defaultdict

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from typer.testing import CliRunner

from agents import ZIC
from protocols.settlement import EXTERNAL
from sandbox import Session
from sandbox.cli import app
from traces.store import Store, StoreUnavailable


class FlakyProxy:
    """A loopback TCP relay to ``target`` that can drop every connection and refuse new ones."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.up = True
        self.refuse_next = 0  # connections to refuse before relaying again
        self.refused = 0
        self._lock = threading.Lock()
        self._conns: list[socket.socket] = []
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = self._server.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            with self._lock:
                refuse = not self.up or self.refuse_next > 0
                if refuse:
                    self.refuse_next = max(0, self.refuse_next - 1)
                    self.refused += 1
            if refuse:
                client.close()
                continue
            upstream = socket.create_connection(self.target)
            with self._lock:
                self._conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def drop(self, *, refuse: int | None = None) -> None:
        """Close every relayed connection; refuse all new ones (or only the next ``refuse``)."""
        with self._lock:
            if refuse is None:
                self.up = False
            else:
                self.refuse_next = refuse
            conns, self._conns = self._conns, []
        for s in conns:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def restore(self) -> None:
        """Relay new connections again."""
        with self._lock:
            self.up = True

    def close(self) -> None:
        """Stop listening and drop everything."""
        self.drop()
        self._server.close()


@pytest.fixture
def pg_proxy():
    url = os.environ.get("AGORA_TEST_PG_URL")
    if not url:
        pytest.skip(
            "AGORA_TEST_PG_URL is not set; the PostgreSQL outage tests need a server to put a proxy in front of"
        )
    real = make_url(url)
    proxy = FlakyProxy((real.host or "127.0.0.1", real.port or 5432))
    try:
        yield proxy, real.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False), url
    finally:
        proxy.close()


def _session(store: Store | str, rounds: int = 20, wait: float = 60.0) -> Session:
    s = Session(seed=5, rounds=rounds, store=store, store_wait=wait)
    s.spawn(ZIC, n=6, role="seller", service="svc", cost=(5, 40), capacity=3)
    s.spawn(ZIC, n=6, role="buyer", service="svc", budget=300, value=(20, 90), demand=3)
    return s


def _check_record(url: str, s: Session) -> None:
    """Every round stored once, and the stored ledger equals the books."""
    engine = create_engine(url)
    with engine.connect() as conn:
        rounds = [
            r for (r,) in conn.execute(text("select round from rounds where run_id=:r order by round"), {"r": s.run_id})
        ]
        rows = conn.execute(
            text("select source, dest, amount from ledger_entries where run_id=:r"), {"r": s.run_id}
        ).fetchall()
        status = conn.execute(text("select status, rounds_done from runs where id=:r"), {"r": s.run_id}).one()
    engine.dispose()
    assert rounds == list(range(1, s.scenario.rounds + 1))
    balances: dict[str, int] = defaultdict(int)
    for src, dst, amount in rows:
        balances[src] -= amount
        balances[dst] += amount
    books = {a: b for a, b in s.ledger.balances.items() if b or a == EXTERNAL}
    assert {a: b for a, b in balances.items() if b or a == EXTERNAL} == books
    assert tuple(status) == ("finished", s.scenario.rounds)


def _after_round(s: Session, n: int, action) -> None:
    def hook(session: Session, log) -> None:
        if log.round == n:
            action()

    s.hooks.after_commit.append(hook)


def test_short_outage_is_ridden_out_by_retries(pg_proxy) -> None:
    proxy, url, _ = pg_proxy
    s = _session(url)
    _after_round(s, 6, lambda: proxy.drop(refuse=3))  # the next three connection attempts fail, then it is back
    result = s.run()
    assert result.rounds == 20 and proxy.refused == 3
    _check_record(url, s)


def test_long_outage_stops_cleanly_and_run_again_resumes_without_a_gap(pg_proxy) -> None:
    proxy, url, direct = pg_proxy
    s = _session(url, wait=0.3)
    _after_round(s, 9, proxy.drop)
    with pytest.raises(StoreUnavailable) as err:
        s.run()
    message = str(err.value)
    assert "\n" not in message and "round 10 was not written" in message
    assert "call run() again" in message and f"agora resume {s.run_id}" in message
    assert s.round == 10 and s.recorder.unsaved_round == 10  # played, kept whole in memory
    assert Store(direct).rounds_done(s.run_id) == 9  # the store has every round before it, and not it
    proxy.restore()
    s.hooks.after_commit.clear()
    s.run()
    _check_record(url, s)


def test_locked_sqlite_stops_cleanly_and_resumes(tmp_path) -> None:
    db = tmp_path / "locked.db"
    s = _session(Store(str(db), busy_timeout=0.05), rounds=8, wait=0.2)
    holder = sqlite3.connect(db, timeout=0.05, isolation_level=None)

    def lock() -> None:
        holder.execute("BEGIN EXCLUSIVE")  # another writer holds the file

    _after_round(s, 4, lock)
    with pytest.raises(StoreUnavailable, match="round 5 was not written"):
        s.run()
    holder.execute("ROLLBACK")
    holder.close()
    s.hooks.after_commit.clear()
    s.run()
    _check_record(f"sqlite:///{db}", s)


def test_cli_outage_is_one_line_and_marks_the_run(tmp_path, monkeypatch) -> None:
    """A FAKE outage (commit_round raises as a lost connection would) seen through ``agora run``."""
    real = Store.commit_round

    def failing(self: Store, run_id: str, batch, update) -> None:
        if update.get("rounds_done") == 3:
            raise OperationalError("INSERT ...", {}, ConnectionError("server closed the connection unexpectedly"))
        real(self, run_id, batch, update)

    monkeypatch.setattr(Store, "commit_round", failing)
    db = tmp_path / "out.db"
    result = CliRunner().invoke(app, ["run", "services", "--rounds", "6", "--db", str(db), "--store-wait", "0.2"])
    assert result.exit_code == 3 and "Traceback" not in result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "round 3 was not written" in lines[0] and "agora resume" in lines[0]
    con = sqlite3.connect(db)
    status, done = con.execute("select status, rounds_done from runs").fetchone()
    assert (status, done) == ("store_unavailable", 2)
    monkeypatch.setattr(Store, "commit_round", real)
    run_id = con.execute("select id from runs").fetchone()[0]
    con.close()
    resumed = CliRunner().invoke(app, ["resume", run_id, "--db", str(db)])
    assert resumed.exit_code == 0, resumed.output
    con = sqlite3.connect(db)
    assert [r for (r,) in con.execute("select round from rounds order by round")] == [1, 2, 3, 4, 5, 6]
