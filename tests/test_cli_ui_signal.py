"""``agora ui`` stopped by SIGTERM (a process manager, ``docker stop``, ``kill``) leaves no server behind.

It used to run Streamlit as a child and wait: SIGTERM ended ``agora ui`` and the child kept serving the
port. On POSIX it now becomes the server (``os.execve``), so the signal reaches Streamlit itself.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from traces.store import Store

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.name != "posix", reason="agora ui becomes the server only on POSIX"),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=1) as r:
            return r.status == 200
    except OSError:
        return False


def _listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_sigterm_to_agora_ui_stops_the_server(tmp_path: Path) -> None:
    db = tmp_path / "ui.db"
    Store(str(db)).engine.dispose()
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [sys.executable, "-m", "sandbox.cli", "ui", "--db", str(db), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        cwd=tmp_path,
    )
    try:
        deadline = time.monotonic() + 90
        while not _healthy(url):
            assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else "agora ui exited"
            assert time.monotonic() < deadline, "timed out after 90 s waiting for the app to serve"
            time.sleep(0.25)
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
        assert not _listening(port), "a server is still listening after agora ui was stopped"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
