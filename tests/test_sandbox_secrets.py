"""Keys and tokens given as agent parameters never reach the record."""

from __future__ import annotations

import sqlite3

import pytest

from agents import ZIC
from agents.llm import LLMAgent
from sandbox import Session
from sandbox.recorder import without_secrets
from sandbox.scenario import ScenarioError


def test_secret_parameters_are_left_out_of_the_record(tmp_path) -> None:
    db = str(tmp_path / "s.db")
    s = Session(seed=1, rounds=2, store=db)
    s.spawn(ZIC, n=2, role="seller", service="svc", cost=5, capacity=2)
    with pytest.raises(ScenarioError, match="no parameter 'api_key'"):  # a scripted trader takes no key at all
        s.spawn(ZIC, n=2, role="buyer", service="svc", budget=50, value=30, api_key="sk-very-secret")
    s.spawn(
        LLMAgent, n=2, role="buyer", service="svc", budget=50, value=30, model="scripted/zi_c", api_key="sk-very-secret"
    )
    s.agents["buyer-000"].params["auth_token"] = "tok-123"  # a parameter under a secret name, set by hand
    s.run()
    con = sqlite3.connect(db)
    dumped = " ".join(str(r) for t in ("runs", "agents") for r in con.execute(f"select * from {t}").fetchall())
    assert "sk-very-secret" not in dumped and "tok-123" not in dumped
    assert "zi_c" in dumped  # the rest of the configuration is kept


def test_without_secrets_keeps_the_rest() -> None:
    data = {"model": "openai/x", "API_KEY": "a", "nested": [{"password": "p", "api_base": "http://127.0.0.1"}]}
    assert without_secrets(data) == {"model": "openai/x", "nested": [{"api_base": "http://127.0.0.1"}]}
