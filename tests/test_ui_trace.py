"""AppTests of the new views: the trace tree (deal, turn and round scopes), a model call's messages
by role, the agents overview, deep links, and operator identity with every attempted write recorded.

The store holds a small market of LLM agents on the offline stand-in model (``scripted/auto``,
named as such) and a scripted services run with rejected actions.
"""

from __future__ import annotations

import json
import pathlib

import pytest
from streamlit import config as st_config
from streamlit.testing.v1 import AppTest

from protocols import semconv as sc
from sandbox.scenario import load_scenario
from sandbox.session import Session
from traces import audit, control, read, trace_read
from traces.llm_calls import llm_calls
from traces.store import Store
from traces.write_log import attempts

UI = pathlib.Path(__file__).resolve().parents[1] / "ui"
LLM, SCRIPTED = "ui-trace-llm", "ui-trace-scripted"


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> dict:
    cli_llm = pytest.importorskip("sandbox.cli.llm", reason="the LLM-agent demo is not installed")
    db = str(tmp_path_factory.mktemp("uitrace") / "trace.db")
    scenario = cli_llm.llm_scenario(load_scenario("services"), "scripted/auto", {})
    buyer = next(s for s in scenario.population if s.role == "buyer" and s.service == "translation")
    seller = next(s for s in scenario.population if s.role == "seller" and s.service == "translation")
    buyer.n, seller.n = 2, 1
    scenario.population = [buyer, seller]
    Session(scenario, rounds=6, store=db, run_id=LLM).run()
    Session(load_scenario("services"), rounds=6, store=db, run_id=SCRIPTED).run()
    store = Store(db)
    return {"db": db, "store": store, "calls": list(llm_calls(store, LLM))}


@pytest.fixture(autouse=True)
def _app_env(recorded: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGORA_DB", recorded["db"])
    for var in ("AGORA_OPERATOR_TOKEN", "AGORA_OPERATORS", "AGORA_OPERATORS_FILE"):
        monkeypatch.delenv(var, raising=False)
    st_config.set_option("server.address", "127.0.0.1")
    import streamlit as st

    st.cache_data.clear()


def page(name: str, run_id: str = LLM, query: dict | None = None, **state: object) -> AppTest:
    at = AppTest.from_file(str(UI / "views" / f"{name}.py"), default_timeout=60)
    at.session_state["agora.run"] = run_id
    for k, v in state.items():
        at.session_state[k] = v
    for k, v in (query or {}).items():
        at.query_params[k] = v
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def texts(at: AppTest) -> list[str]:
    return [str(e.value) for kind in ("subheader", "caption", "text", "error", "success", "info") for e in at.get(kind)]


def span_table(at: AppTest) -> object:
    return next(d.value for d in at.dataframe if "span" in d.value.columns)


def deal(recorded: dict) -> object:
    deals = read.transactions(recorded["store"], LLM)
    if not deals:
        pytest.skip("the stand-in LLM agents made no deal in 6 rounds of this small market")
    return deals[0]


def test_round_trace_has_one_row_per_span_indented_by_depth(recorded: dict) -> None:
    store = recorded["store"]
    nodes = trace_read.tree(trace_read.spans(store, LLM, round_=3, limit=None))
    at = page("trace_view", query={"round": "3"})
    table = span_table(at)
    assert [s.strip() for s in table["span"]] == [n.span.name for n in nodes]
    assert [(len(s) - len(s.lstrip())) // 4 for s in table["span"]] == [n.depth for n in nodes]
    assert nodes[0].span.operation == sc.SPAN_ROUND  # the round, not the run, sets the time axis
    waterfall = json.loads(at.get("plotly_chart")[0].proto.spec)["data"][0]
    t0 = min(n.span.start_ns for n in nodes)
    assert list(waterfall["y"]) == list(range(len(nodes)))
    assert list(waterfall["base"]) == pytest.approx([(n.span.start_ns - t0) / 1e6 for n in nodes])
    assert f"round 3: {len(nodes)} spans" in " ".join(texts(at))


def test_turn_trace_shows_only_that_agents_spans(recorded: dict) -> None:
    # a turn with a model call (LLM agents wait in rounds where nothing happened to them: agents.wake)
    call = next(c for c in recorded["calls"] if c["event"] == "call")
    agent, rnd = call["agent_id"], call["round"]
    mine = trace_read.spans(recorded["store"], LLM, agent=agent, round_=rnd, limit=None)
    at = page("trace_view", query={"agent": agent, "round": str(rnd)})
    table = span_table(at)
    assert len(table) == len(mine) > 0 and set(table["agent"]) == {agent}
    assert "chat" in {s.strip().split(" ")[0] for s in table["span"]}


def test_a_deals_trace_leaves_out_the_run_span(recorded: dict) -> None:
    tx = deal(recorded)
    nodes = trace_read.transaction_trace(recorded["store"], LLM, tx.tx_id)
    at = page("trace_view", query={"tx": str(tx.tx_id)})
    table = span_table(at)
    assert [s.strip() for s in table["span"]] == [n.span.name for n in nodes[1:]]
    assert "session.run" not in [s.strip() for s in table["span"]]


def test_chat_span_shows_its_messages_by_role_and_tool_calls_as_json(recorded: dict) -> None:
    store = recorded["store"]
    tx = deal(recorded)
    chats = [n.span for n in trace_read.transaction_trace(store, LLM, tx.tx_id) if n.span.operation == "chat"]
    with_tools = [
        (sp, c)
        for sp in chats
        for c in recorded["calls"]
        if (c["round"], c["agent_id"], c["seq"]) == (sp.round, sp.agent_id, sp.attrs()[sc.LLM_CALL_SEQ])
        and '"tool_calls":[{' in (c["response_json"] or "").replace(" ", "")
    ]
    assert with_tools, "the stand-in model answers with tool calls"
    span, call = with_tools[0]
    at = page("transactions", **{"agora.tx.open": tx.tx_id, "agora.span": span.span_id})
    shown = texts(at)
    assert f"Span {span.name}" in shown
    prompt = json.loads(call["messages_json"])
    roles = [t for t in shown if t.split(" ")[0] in ("SYSTEM", "USER", "ASSISTANT", "TOOL")]
    assert roles[: len(prompt) + 1] == [m["role"].upper() for m in prompt] + ["ASSISTANT (the model's reply)"]
    code = [c.value for c in at.code]
    assert prompt[0]["content"] in code  # whole, with its line breaks, wrapping in its own block
    reply = json.loads(call["response_json"])["choices"][0]["message"]
    for t in reply["tool_calls"]:
        assert f"tool call {t['function']['name']} ({t['id']})" in shown
        args = json.dumps(json.loads(t["function"]["arguments"]), indent=2, sort_keys=True)
        assert args in code
    metrics = {m.label: m.value for m in at.metric}
    assert (metrics["Input tokens"], metrics["Output tokens"]) == (
        str(call["prompt_tokens"]),
        str(call["completion_tokens"]),
    )
    assert metrics["Latency"] == f"{call['latency_ms']:.0f} ms" and metrics["Cost"] == f"{call['cost_usd']:.4f} USD"
    assert not any(prompt[0]["content"] in str(m.value) for m in at.markdown)  # never rendered as Markdown


def test_agents_overview_lists_every_agent_most_suspicious_first(recorded: dict) -> None:
    store = recorded["store"]
    at = page("agent_story", SCRIPTED)
    overview = at.dataframe[0].value
    agents = read.agents(store, SCRIPTED)
    assert sorted(overview["agent"]) == sorted(a.agent_id for a in agents)
    rejected: dict[str, int] = {}
    for a in read.actions(store, SCRIPTED, accepted=False):
        rejected[a.agent_id] = rejected.get(a.agent_id, 0) + 1
    deals: dict[str, int] = {}
    for t in read.transactions(store, SCRIPTED):
        for who in (t.buyer, t.seller):
            deals[who] = deals.get(who, 0) + 1
    final = audit.balances_at(store, SCRIPTED, 6)
    for row in overview.to_dict("records"):
        assert row["violations"] == rejected.get(row["agent"], 0)
        assert row["deals"] == deals.get(row["agent"], 0)
        endowment = next(a.endowment for a in agents if a.agent_id == row["agent"])
        assert row["pnl"] == pytest.approx((final.get(f"agent:{row['agent']}", 0) - endowment) / 1e6)
    assert list(overview["violations"]) == sorted(overview["violations"], reverse=True)  # no alerts here
    assert at.selectbox(key="agora.agent").value == overview.iloc[0]["agent"]  # opens on the most suspicious
    assert max(rejected.values()) > 0 and overview.iloc[0]["violations"] == max(rejected.values())
    assert {"role", "type", "pnl", "alerts", "breaker", "tokens_in", "cost_usd"} <= set(overview.columns)


def test_llm_agents_overview_shows_model_tokens_and_cost(recorded: dict) -> None:
    overview = page("agent_story").dataframe[0].value
    for row in overview.to_dict("records"):
        mine = [c for c in recorded["calls"] if c["agent_id"] == row["agent"]]
        assert row["type"] == "llm (scripted/auto)"
        assert (row["llm_calls"], row["tokens_in"], row["tokens_out"]) == (
            len(mine),
            sum(c["prompt_tokens"] for c in mine),
            sum(c["completion_tokens"] for c in mine),
        )


def test_deep_links_open_the_named_agent_deal_and_round(recorded: dict) -> None:
    agents = [a.agent_id for a in read.agents(recorded["store"], SCRIPTED)]
    at = page("agent_story", SCRIPTED, query={"agent": agents[-1]}, **{"agora.agent": agents[0]})
    assert at.selectbox(key="agora.agent").value == agents[-1]  # the link wins over the earlier choice
    assert f"Agent {agents[-1]}" in texts(at) and at.query_params["agent"] == agents[-1]
    at.selectbox(key="agora.agent").select(agents[1]).run()  # a later pick is not undone by the old URL
    assert at.selectbox(key="agora.agent").value == agents[1] and at.query_params["agent"] == agents[1]
    tx = read.transactions(recorded["store"], SCRIPTED)[0]
    at = page("transactions", SCRIPTED, query={"tx": str(tx.tx_id)})
    assert f"Transaction #{tx.tx_id}" in texts(at)
    links = [m.value for m in at.markdown]
    assert any(f"agent={tx.buyer}" in m for m in links) and any(f"agent={tx.seller}" in m for m in links)
    at = page("replay", SCRIPTED, query={"round": "4"})
    assert at.slider(key="agora.replay.round").value == 4 and "Actions and messages in round 4" in texts(at)


def test_operators_write_under_the_name_their_token_maps_to(recorded: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    store = recorded["store"]
    monkeypatch.setenv("AGORA_OPERATORS", "ann:tok-ann,rob:tok-rob")
    at = page("runs", **{"agora.author": "someone-else"})
    assert [t.label for t in at.sidebar.text_input] == ["Operator token (writes are recorded under your name)"]
    at.number_input[0].set_value(1)
    at.button[0].click().run()
    assert "Enter your operator token in the sidebar" in " ".join(texts(at))
    at.sidebar.text_input(key="agora.token").input("tok-wrong").run()
    at.button[0].click().run()
    assert "That operator token is not known" in " ".join(texts(at))
    refused = [a for a in attempts(store) if a.action == "start_demo"]
    assert [(a.allowed, a.operator, a.client) for a in refused[:2]] == [(False, "", "local"), (False, "", "local")]
    assert not [c for c in control.commands(store, "*") if c.kind == "start_demo"]
    live = Session(load_scenario("services"), store=recorded["db"], run_id="ui-trace-live")
    live.run(rounds=1)
    import streamlit as st

    st.cache_data.clear()  # the run list was cached (for 2 s) before this run existed
    at = page("incentives", "ui-trace-live", **{"agora.token": "tok-rob"})
    assert "Writing as rob" in texts(at)
    at.number_input(key="policy.ui-trace-live.1.fee_rate").set_value(0.04)
    at.button[0].click().run()
    [cmd] = control.pending_commands(store, "ui-trace-live")
    assert cmd.author == "rob"
    [done] = [a for a in attempts(store, "ui-trace-live") if a.action == "set_policy"]
    assert (done.allowed, done.operator, done.outcome) == (True, "rob", "allowed")


def test_operators_file_is_read_and_bad_lines_are_named(tmp_path: pathlib.Path) -> None:
    from ui.guard import operators

    f = tmp_path / "ops"
    f.write_text("# name token\nann  tok-1\nrob tok-2\n")
    assert operators({"AGORA_OPERATORS_FILE": str(f), "AGORA_OPERATORS": "cy:tok-3"}) == {
        "tok-1": "ann",
        "tok-2": "rob",
        "tok-3": "cy",
    }
    f.write_text("ann\n")
    with pytest.raises(ValueError, match="line 1"):
        operators({"AGORA_OPERATORS_FILE": str(f)})


def test_replay_off_loopback_needs_the_same_identity_as_a_write(
    recorded: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    st_config.set_option("server.address", "0.0.0.0")
    monkeypatch.setenv("AGORA_OPERATOR_TOKEN", "s3cret")
    at = page("replay", SCRIPTED, **{"agora.author": "mallory", "agora.token": "guess"})
    at.button[0].click().run()
    assert "operator token" in " ".join(texts(at)) and not at.success
    [refused] = [a for a in attempts(recorded["store"], SCRIPTED) if a.action == "replay"]
    assert (refused.allowed, refused.operator) == (False, "mallory")


def test_an_invalid_fork_policy_is_refused_in_one_sentence(recorded: dict) -> None:
    at = page("replay", SCRIPTED, **{"agora.author": "rui", "agora.replay.round": 2})
    for text, expected in [
        ('{"fee_rate": "lots"}', "fee_rate"),
        ('{"no_such_field": 1}', "The policy has no field no_such_field"),
        ("{not json", "not valid JSON"),
    ]:
        at.text_area(key="agora.fork.policy").input(text)
        at.button[1].click().run()
        [error] = [e.value for e in at.error]
        assert expected in error and "http" not in error and "\n" not in error
    assert not [c for c in control.commands(recorded["store"], "*") if c.kind == "start_fork"]
    fork_attempts = [a for a in attempts(recorded["store"], SCRIPTED) if a.action == "start_fork"]
    assert len(fork_attempts) == 3 and not any(a.allowed for a in fork_attempts)
