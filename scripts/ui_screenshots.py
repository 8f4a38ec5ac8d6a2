"""Screenshots of every page of the app for the docs (docs/screenshots/*.png), in Debian's chromium.

Records a small store (a services run with a live fee change, a red-team run with alerts),
serves the app on a free loopback port and photographs each page with playwright driving
``/usr/bin/chromium`` (never a downloaded browser).

    .venv/bin/python scripts/ui_screenshots.py [--out docs/screenshots]
"""

from __future__ import annotations

import argparse
import pathlib
import socket
import subprocess
import tempfile
import time
import urllib.request

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def record(db: str) -> tuple[str, str, str]:
    """A services run whose fee an auditor raised at round 11, a red-team run, and a small run of
    LLM agents on the offline stand-in model (scripted/auto); returns their ids."""
    from sandbox.scenario import load_scenario
    from sandbox.session import Session
    from traces.control import submit_command

    s = Session(load_scenario("services"), store=db, run_id="services-demo")
    s.run(rounds=10)
    submit_command(s.recorder.store, s.run_id, "set_policy", {"fee_rate": 0.05}, "auditor-ann", "test a higher fee")
    s.run()
    red = Session(load_scenario("redteam"), rounds=12, store=db, run_id="redteam-demo")
    red.run()
    from sandbox.cli.llm import llm_scenario

    scenario = llm_scenario(load_scenario("services"), "scripted/auto", {})
    buyer = next(p for p in scenario.population if p.role == "buyer" and p.service == "translation")
    seller = next(p for p in scenario.population if p.role == "seller" and p.service == "translation")
    buyer.n, seller.n = 2, 1
    scenario.population = [buyer, seller]
    Session(scenario, rounds=8, store=db, run_id="llm-demo").run()
    return s.run_id, red.run_id, "llm-demo"


def chat_span(db: str, run_id: str) -> tuple[int, str]:
    """The first deal of the LLM run and the first chat span in its trace whose answer calls tools."""
    from traces import read, trace_read
    from traces.store import Store

    store = Store(db)
    tx = read.transactions(store, run_id)[0].tx_id
    chats = [n.span for n in trace_read.transaction_trace(store, run_id, tx) if n.span.operation == "chat"]
    return tx, chats[min(1, len(chats) - 1)].span_id


def serve(db: str) -> tuple[subprocess.Popen, str]:
    """The app on a free loopback port, once it answers its health check."""
    from sandbox.cli.ui import streamlit_command

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    cmd, env = streamlit_command(db, "127.0.0.1", port)
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(240):
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=1):
                return proc, url
        except OSError:
            time.sleep(0.25)
    proc.terminate()
    raise RuntimeError("the app did not start within a minute")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="docs/screenshots")
    out = pathlib.Path(ap.parse_args().out)
    out.mkdir(parents=True, exist_ok=True)
    db = str(pathlib.Path(tempfile.mkdtemp(prefix="agora-shots-")) / "shots.db")
    services, red, llm = record(db)
    tx, span = chat_span(db, llm)
    proc, url = serve(db)
    from ui.pages import PAGES

    # (image, query, text that shows the page has drawn) for each page file of ui.pages.PAGES
    by_page = {
        "runs": [("runs", f"?run={services}", "Start a demo run")],
        "market": [("market", f"?run={services}", "Who trades with whom")],
        "transactions": [("transactions", f"?run={services}&tx=12", "Negotiation thread")],
        "trace_view": [("trace", f"?run={llm}&tx={tx}&span={span}", "ASSISTANT (the model's reply)")],
        "agent_story": [("agents", f"?run={red}", "All agents")],
        "alerts": [("alerts", f"?run={red}", "Decision")],
        "incentives": [("incentives", f"?run={services}", "History")],
        "replay": [("replay", f"?run={services}&round=12", "Replay or fork")],
    }
    assert set(by_page) == {p.file for p in PAGES}, "a page of ui.pages has no screenshot here"
    shots = [
        (name, f"{p.url_path}{query}", marker) for p in PAGES for name, query, marker in by_page[p.file]
    ]  # the default page lives at /
    from playwright.sync_api import sync_playwright

    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 2200})
            for name, path, marker in shots:
                page.goto(f"{url}/{path}")
                page.get_by_text(marker).first.wait_for(timeout=120_000)
                # the status widget shows while the script runs; then give the charts time to draw
                page.locator('[data-testid="stStatusWidget"]').wait_for(state="detached", timeout=120_000)
                page.wait_for_timeout(2000)
                page.screenshot(path=str(out / f"{name}.png"))
                print(f"{out / f'{name}.png'}")
            browser.close()
    finally:
        proc.terminate()


if __name__ == "__main__":
    main()
