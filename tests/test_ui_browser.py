"""End to end in a real headless Chromium: a live run, the app, and a fee changed on the
Incentives page that the running session applies at its next round.

Uses Debian's chromium through playwright's ``executable_path`` (never a downloaded browser);
skips with the reason when either is missing.
"""

from __future__ import annotations

import json
import os
import pathlib
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from sandbox.cli.ui import streamlit_command
from traces import audit, control, read
from traces.store import Store

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
RUN = "e2e-live"
LIVE_RUN = """
import sys, time
from sandbox.scenario import load_scenario
from sandbox.session import Session
from pathlib import Path
session = Session(load_scenario("services"), rounds=2000, store=sys.argv[1], run_id=sys.argv[2])
gate = Path(sys.argv[3])


def pace(s, log):
    time.sleep(0.15)  # slow enough for a person to follow
    # Hold round 3 until the test has written its policy change, so the change lands while the market
    # still trades, however slow the machine (the services market's demand runs out after ~80 rounds);
    # never more than 5 minutes, so this process always ends by itself.
    deadline = time.monotonic() + 300
    while s.round == 3 and not gate.exists() and time.monotonic() < deadline:
        time.sleep(0.05)


session.hooks.round_start.append(pace)
session.run()
"""

playwright_api = pytest.importorskip(
    "playwright.sync_api", reason="playwright is not installed (pip install -e '.[test]')"
)
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"Debian's chromium is not installed at {CHROMIUM}"),
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.25)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=1) as r:
            return r.status == 200
    except OSError:
        return False


@pytest.fixture
def live(tmp_path: pathlib.Path):
    """A live run in one process and the app in another, on a free loopback port."""
    db, gate = str(tmp_path / "live.db"), tmp_path / "policy-written"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", LIVE_RUN, db, RUN, str(gate)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
    ]
    store = Store(db)
    try:
        wait_for(
            lambda: (r := read.run(store, RUN)) is not None and r.rounds_done >= 2, 60, "the live run's first rounds"
        )
        port = free_port()
        cmd, env = streamlit_command(db, "127.0.0.1", port)
        procs.append(subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        url = f"http://127.0.0.1:{port}"
        wait_for(lambda: healthy(url), 60, "the app to serve")
        yield {"url": url, "store": store, "shots": tmp_path, "gate": gate}
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()


def test_fee_changed_in_the_browser_is_applied_by_the_live_session(live: dict) -> None:
    store, shots = live["store"], live["shots"]
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1600})
        page.goto(f"{live['url']}/incentives?run={RUN}")
        page.get_by_text("Policy in force (version 1)").wait_for(timeout=60_000)
        page.get_by_label("Your name (recorded with every write)").fill("browser-bea")
        page.get_by_label("Your name (recorded with every write)").press("Enter")
        fee = page.get_by_label("fee_rate", exact=True)
        fee.fill("0.0700")
        page.get_by_label("Reason for the change (recorded)").fill("raise fees mid-run")
        written_after = read.run(store, RUN).rounds_done
        page.get_by_role("button", name="Apply at the next round").click()
        page.get_by_text("written by browser-bea").wait_for(timeout=30_000)
        page.screenshot(path=str(shots / "incentives-written.png"), full_page=True)

        [cmd] = [c for c in control.commands(store, RUN) if c.kind == "set_policy"]
        assert (json.loads(cmd.payload_json), cmd.author, cmd.reason) == (
            {"fee_rate": 0.07},
            "browser-bea",
            "raise fees mid-run",
        )
        live["gate"].touch()  # the live run, held at round 3, goes on and reads the command at its next round
        applied = wait_for(
            lambda: [c for c in control.commands(store, RUN) if c.id == cmd.id and c.applied_round],
            60,
            "the session to apply the command",
        )[0]
        assert applied.outcome == "applied" and applied.applied_round > written_after
        version = audit.policy_versions(store, RUN)[-1]
        assert (version.version, version.round, version.author) == (2, applied.applied_round, "browser-bea")
        assert json.loads(version.policy_json)["fee_rate"] == 0.07
        # A trade settled after the change pays the new fee.
        later = wait_for(
            lambda: [
                t
                for t in read.transactions(store, RUN)
                if t.status == "settled" and t.settled_round > applied.applied_round
            ],
            90,
            "a trade under the new fee",
        )
        assert later[0].fee == round(later[0].price * 0.07)

        page.goto(f"{live['url']}/incentives?run={RUN}")
        page.get_by_text("Policy in force (version 2)").wait_for(timeout=60_000)
        # dataframe cells live in a hidden accessibility grid beside the canvas that draws them
        page.get_by_text("fee_rate: 0.02 -> 0.07").first.wait_for(state="attached", timeout=30_000)
        page.screenshot(path=str(shots / "incentives-applied.png"), full_page=True)
        browser.close()
    assert all((shots / n).stat().st_size > 10_000 for n in ("incentives-written.png", "incentives-applied.png"))


LLM_RUN = "e2e-llm"
RECORD_LLM = """
import sys
from sandbox.cli.llm import llm_scenario
from sandbox.scenario import load_scenario
from sandbox.session import Session
scenario = llm_scenario(load_scenario("services"), "scripted/auto", {})  # the offline stand-in model
buyer = next(s for s in scenario.population if s.role == "buyer" and s.service == "translation")
seller = next(s for s in scenario.population if s.role == "seller" and s.service == "translation")
buyer.n, seller.n = 2, 1
scenario.population = [buyer, seller]
Session(scenario, rounds=8, store=sys.argv[1], run_id=sys.argv[2]).run()
"""


def click_row(page, table, row: int) -> None:
    """Select a dataframe row by clicking its row marker (the grid is drawn on a canvas)."""
    table.scroll_into_view_if_needed()
    box = table.bounding_box()
    page.mouse.click(box["x"] + 12, box["y"] + 35 * (row + 1) + 17)  # header row, then 35 px rows


@pytest.fixture
def llm_app(tmp_path: pathlib.Path):
    """A finished run of LLM agents on the stand-in model, and the app serving it on loopback."""
    pytest.importorskip("sandbox.cli.llm", reason="the LLM-agent demo is not installed")
    db = str(tmp_path / "llm.db")
    subprocess.run([sys.executable, "-c", RECORD_LLM, db, LLM_RUN], check=True, capture_output=True)
    port = free_port()
    cmd, env = streamlit_command(db, "127.0.0.1", port)
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: healthy(url), 60, "the app to serve")
        yield {"url": url, "store": Store(db), "shots": tmp_path}
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_click_a_deal_open_its_trace_and_read_the_assistants_tool_calls(llm_app: dict) -> None:
    from traces import trace_read
    from traces.llm_calls import llm_calls

    store, shots = llm_app["store"], llm_app["shots"]
    deals = read.transactions(store, LLM_RUN)
    if not deals:
        pytest.skip("the stand-in LLM agents made no deal in 8 rounds of this small market")
    tx = deals[0]
    scoped = trace_read.transaction_trace(store, LLM_RUN, tx.tx_id)[1:]  # the page leaves out session.run
    records = {(c["round"], c["agent_id"], c["seq"]): c for c in llm_calls(store, LLM_RUN)}

    def tool_calls(sp: object) -> list:
        record = records[(sp.round, sp.agent_id, sp.attrs()["agora.llm.call_seq"])]
        return json.loads(record["response_json"])["choices"][0]["message"].get("tool_calls") or []

    chat_row = next(i for i, n in enumerate(scoped) if n.span.operation == "chat" and tool_calls(n.span))
    chat = scoped[chat_row].span
    calls = tool_calls(chat)
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1600})
        page.goto(f"{llm_app['url']}/transactions?run={LLM_RUN}")
        page.get_by_text("Click a row to open the deal").wait_for(timeout=60_000)
        tables = page.locator('[data-testid="stDataFrame"]')
        tables.first.wait_for(timeout=30_000)
        click_row(page, tables.first, 0)  # the first deal of the table
        page.get_by_text(f"Transaction #{tx.tx_id}").wait_for(timeout=60_000)
        assert f"tx={tx.tx_id}" in page.url  # the URL carries the open deal
        page.get_by_text("Click a row to open its span").wait_for(timeout=60_000)
        page.locator('[data-testid="stStatusWidget"]').wait_for(state="detached", timeout=60_000)
        click_row(page, tables.nth(3), chat_row)  # deals, the deal's facts, its thread, then its spans
        page.get_by_text(f"span {chat.span_id}").wait_for(timeout=60_000)
        page.get_by_text("ASSISTANT (the model's reply)").first.wait_for(timeout=30_000)
        shown = page.locator('[data-testid="stMain"]').inner_text()
        assert "SYSTEM" in shown and "USER" in shown
        for t in calls:
            assert f"tool call {t['function']['name']} ({t['id']})" in shown
        assert f"span={chat.span_id}" in page.url
        page.screenshot(path=str(shots / "trace-chat-span.png"), full_page=True)
        browser.close()
    assert (shots / "trace-chat-span.png").stat().st_size > 10_000
