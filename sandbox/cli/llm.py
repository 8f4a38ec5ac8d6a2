"""``agora model-server`` and the LLM form of ``agora demo`` (``--llm``, ``--model``).

The demo with ``--llm`` runs the built-in services market with every trader replaced by an
LLM agent whose persona matches its scripted strategy, on the offline stand-in model
(``scripted/auto``) unless ``--model`` names a real one. A real model is checked before the
run (key in the environment, server reachable), and a problem is one sentence, not a traceback.
"""

from __future__ import annotations

import os
from typing import Annotated, Any

import typer

from sandbox.cli.common import app, console, fail, print_summary, run_with_progress
from sandbox.scenario import Scenario, ScenarioError, load_scenario
from sandbox.session import Session
from traces.store import Store, StoreError

PERSONA_FOR = {
    "zi_c": "aggressive_negotiator",
    "zi_u": "neutral",
    "budget_buyer": "bargain_hunter",
    "markup_seller": "honest_seller",
}


def llm_scenario(scenario: Scenario, model: str, extra: dict[str, Any]) -> Scenario:
    """The scenario with every population played by LLM agents of the matching persona."""
    out = scenario.model_copy(deep=True)
    out.name = f"{scenario.name}-llm"
    for spec in out.population:
        persona = PERSONA_FOR.get(spec.agent, "neutral")
        spec.agent = "llm"
        spec.params = {"model": model, "persona": persona, **extra}
    return out


def preflight(model: str, api_base: str | None, api_key: str | None) -> str | None:
    """Why ``model`` cannot be used now, in one sentence, or None when a one-token call works."""
    if model.startswith("scripted/"):
        return None
    from agents.llm.lite import litellm

    litellm.suppress_debug_info = True
    missing = litellm.validate_environment(model, api_base=api_base).get("missing_keys") or []
    if missing and not api_key and not api_base:
        return (
            f"model '{model}' needs {', '.join(missing)} set in the environment (or --api-base for a local "
            "OpenAI-compatible server); set it and run again, or drop --model to use the offline stand-in"
        )
    where = api_base or "the provider's default address"
    from agents.llm.faults import classify

    try:
        litellm.completion(
            model=model,
            messages=[{"role": "user", "content": "Reply with OK."}],
            max_tokens=1,
            timeout=20,
            num_retries=0,
            max_retries=0,
            api_base=api_base,
            api_key=api_key,
        )
    except Exception as err:  # every provider problem ends in one sentence
        kind = classify(err)
        if kind == "auth":
            return f"the provider refused the credentials for '{model}'; check {', '.join(missing) or 'the API key'}"
        if kind == "bad_request":
            return (
                f"the provider does not accept model '{model}' ({str(err).splitlines()[0][:160]}); check the model name"
            )
        if kind in ("connection", "timeout"):
            return f"cannot reach the model server for '{model}' at {where}; check --api-base and that the server is running"
        return f"model '{model}' did not answer a test call ({type(err).__name__}); check the model name and server"
    return None


def run_llm_demo(
    db: str,
    seed: int | None,
    rounds: int | None,
    model: str | None,
    api_base: str | None,
    max_in_flight: int,
    timeout: float | None = None,
) -> None:
    """Run the services market with LLM agents and print the summary and the model's spend."""
    model = model or "scripted/auto"
    api_key = None
    if api_base and not model.startswith("scripted/"):
        api_key = os.environ.get("OPENAI_API_KEY") or "not-needed"  # local servers often want any key
    problem = preflight(model, api_base, api_key)
    if problem:
        fail(problem)
    extra: dict[str, Any] = {"max_in_flight": max_in_flight}
    if api_base:
        extra["api_base"] = api_base
    if timeout is not None:
        extra["timeout"] = timeout  # a slow local model (tens of seconds a call) needs more than the default
    try:
        scenario = llm_scenario(load_scenario("services"), model, extra)
        store = Store(db)
        _ = store.engine
    except (ScenarioError, StoreError) as err:
        fail(str(err))
    session = Session(scenario, seed=seed, rounds=rounds, store=store)
    if api_key:
        for agent in session.agents.values():
            agent.settings.params["api_key"] = api_key  # type: ignore[attr-defined]
    result, seconds = run_with_progress(session)
    print_summary(result, seconds, db)
    calls = sum(a.spend.calls for a in session.agents.values() if hasattr(a, "spend"))
    tokens = sum(a.spend.tokens for a in session.agents.values() if hasattr(a, "spend"))
    cost = sum(a.spend.cost_usd for a in session.agents.values() if hasattr(a, "spend"))
    console.print(
        f"model {model}: {calls} calls, {tokens} tokens, ${cost:.4f} estimated; every call is in the llm_calls table",
        highlight=False,
    )


def _rate(help_: str) -> Any:
    return typer.Option(min=0.0, max=1.0, help=help_)


@app.command("model-server")
def model_server(
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1 (0 picks a free one).")] = 8765,
    latency: Annotated[float, typer.Option(help="Seconds before each answer.")] = 0.0,
    latency_dist: Annotated[
        str | None, typer.Option(help="Drawn latency: uniform:LO,HI, exp:MEAN or normal:MEAN,SD.")
    ] = None,
    rate_429: Annotated[float, _rate("Share of requests answered 429.")] = 0.0,
    rate_500: Annotated[float, _rate("Share of requests answered 500.")] = 0.0,
    hang: Annotated[float, _rate("Share of requests that never answer.")] = 0.0,
    malformed: Annotated[float, _rate("Share of answers with tool-call arguments that are not JSON.")] = 0.0,
    refusal: Annotated[float, _rate("Share of answers that refuse in plain text.")] = 0.0,
    empty: Annotated[float, _rate("Share of empty answers.")] = 0.0,
    invalid: Annotated[float, _rate("Share of first answers with a price outside the band.")] = 0.0,
    seed: Annotated[int, typer.Option(help="Seed of the fault draws.")] = 0,
) -> None:
    """Serve the offline stand-in model (not a language model) as an OpenAI-compatible API on loopback."""
    from agents.llm.model_server import ModelServer, ServerFaults

    try:
        faults = ServerFaults(
            latency=latency,
            latency_dist=latency_dist,
            rate_429=rate_429,
            rate_500=rate_500,
            hang=hang,
            malformed=malformed,
            refusal=refusal,
            empty=empty,
            invalid=invalid,
            seed=seed,
        )
        if latency_dist:
            import random

            faults.delay(random.Random(0))  # a bad distribution fails here, not on the first request
        server = ModelServer(faults, port=port)
    except ValueError as err:
        fail(str(err))
    console.print(
        f"stand-in model server (not a language model) on http://127.0.0.1:{port}/v1; "
        f"use model='openai/auto' with api_base set to it; Ctrl-C stops it",
        highlight=False,
    )
    try:
        server.serve_forever()
    except OSError as err:
        fail(f"cannot listen on 127.0.0.1:{port} ({err.strerror}); pick another --port")
    except KeyboardInterrupt:
        pass
