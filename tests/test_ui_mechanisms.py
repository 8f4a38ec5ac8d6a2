"""Every page renders for runs of other market mechanisms (double auction, Bertrand pricing),
whose records differ from the bilateral services market's (no threads, no values per unit).
"""

from __future__ import annotations

import pathlib

import pytest
from streamlit import config as st_config
from streamlit.testing.v1 import AppTest

from sandbox.scenario import builtin_names, load_scenario
from sandbox.session import Session
from traces import read
from traces.store import Store
from ui import pages as ui_pages

UI = pathlib.Path(__file__).resolve().parents[1] / "ui"
SCENARIOS = [n for n in ("double_auction", "bertrand") if n in builtin_names()]
PAGES = [p.file for p in ui_pages.PAGES]


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = str(tmp_path_factory.mktemp("uimech") / "mech.db")
    for name in SCENARIOS:
        Session(load_scenario(name), rounds=6, store=path, run_id=f"ui-{name}").run()
    return path


@pytest.mark.skipif(not SCENARIOS, reason="the mechanisms issue's scenarios are not installed")
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_every_page_renders_a_run_of_another_mechanism(db: str, scenario: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGORA_DB", db)
    st_config.set_option("server.address", "127.0.0.1")
    run_id = f"ui-{scenario}"
    rounds = read.rounds(Store(db), run_id)
    for page in PAGES:
        at = AppTest.from_file(str(UI / "views" / f"{page}.py"), default_timeout=60)
        at.session_state["agora.run"] = run_id
        at.session_state["agora.tx.open"] = 1
        at.run()
        assert not at.exception, (page, [e.value for e in at.exception])
        assert at.title[0].value
        if page == "market":
            metrics = {m.label: m.value for m in at.metric}
            assert metrics["Rounds"] == str(len(rounds))
            assert metrics["Transactions"] == str(sum(r.n_tx for r in rounds))
