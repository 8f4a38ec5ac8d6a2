"""The one door to litellm: every module of Agora imports litellm from here, never directly.

Importing litellm fetches the model cost map from the network unless
``LITELLM_LOCAL_MODEL_COST_MAP`` is set when it loads; this module sets it (unless the caller
already chose a value) and only then imports litellm. Importing ``agents.llm`` or ``sandbox`` does
not import this module: litellm takes seconds to load, so its users import ``lite`` on first use.

``acompletion_on_loop`` is ``litellm.acompletion`` without its thread hop, for the calls Agora
makes on the paths it uses most (see its docstring); every other call goes through
``litellm.acompletion`` unchanged.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import litellm  # noqa: E402
from litellm import CustomLLM, ModelResponse  # noqa: E402
from litellm import main as _main  # noqa: E402
from litellm._internal_context import is_internal_call as _unlogged  # noqa: E402
from litellm.integrations.custom_logger import CustomLogger  # noqa: E402
from litellm.llms.openai.openai import OpenAIChatCompletion  # noqa: E402
from litellm.utils import client as _client  # noqa: E402
from litellm.utils import exception_type as _exception_type  # noqa: E402

__all__ = [
    "CustomLLM",
    "CustomLogger",
    "ModelResponse",
    "OpenAIChatCompletion",
    "acompletion_on_loop",
    "litellm",
    "on_loop_fits",
]

ON_LOOP_PARAMS = frozenset(
    {
        "api_base",
        "api_key",
        "client",
        "temperature",
        "top_p",
        "max_tokens",
        "seed",
        "tool_choice",
        "parallel_tool_calls",
        "timeout",
        "max_retries",
        "num_retries",
        "drop_params",
    }
)
"""The keyword arguments a call may carry and still take ``acompletion_on_loop`` (anything else:
fallbacks, mocks, prompt management, streaming, cache-control injection... goes through
``litellm.acompletion``, which handles them before and after its worker thread)."""

_PYTHON_COMPLETION: Any = _main.completion  # litellm's Python completion, wrapped by its @client decorator

AGORA_CALLBACKS: tuple[type, ...] = ()
"""Callback classes of Agora's own (``agents.llm.sending`` adds its hook), which need no success logging."""

SKIP_UNUSED_LOGGING = True
"""Skip litellm's success and failure logging on ``acompletion_on_loop`` when no callback but Agora's is
registered (nothing would read it; the response's cost and hidden parameters are still set)."""

PRICE_FROM_TABLE = True
"""Price ``acompletion_on_loop``'s answers from per-token rates looked up once per model, instead of
litellm's cost calculator on every call, once the rates gave litellm's own price exactly (``_learn_price``)."""

PRICE_CHECKS = 3
"""How many answers of a model litellm prices, and the rates must match exactly, before the rates are used."""

_RATES: dict[tuple[str, str], tuple[float, float] | None] = {}
"""(model asked, model answering) -> (input, output) USD per token once checked, or None: litellm prices it."""
_CHECKED: dict[tuple[str, str], int] = {}

_CALLBACK_LISTS = (
    "callbacks",
    "input_callback",
    "success_callback",
    "failure_callback",
    "service_callback",
    "_async_input_callback",
    "_async_success_callback",
    "_async_failure_callback",
)


def _only_agora_callbacks() -> bool:
    """No callback registered in litellm but Agora's own: its per-call logging would go to nobody."""
    for name in _CALLBACK_LISTS:
        for cb in getattr(litellm, name, None) or ():
            if not (AGORA_CALLBACKS and isinstance(cb, AGORA_CALLBACKS)):
                return False
    return True


def _no_agentic_gate() -> bool:
    """No registered callback asks to run litellm's chat agentic loop (which only ``acompletion`` runs)."""
    base = CustomLogger.async_should_run_agentic_loop
    for cb in [*litellm.callbacks, *litellm.success_callback, *litellm._async_success_callback]:
        if isinstance(cb, CustomLogger) and type(cb).async_should_run_agentic_loop is not base:
            return False
    return True


def on_loop_fits(model: str, kwargs: dict[str, Any]) -> bool:
    """Whether a call may skip litellm's worker thread: ``scripted/`` (the in-process stand-in), or
    ``openai/`` with an SDK client Agora built (``client``: no client to build, no blocking I/O
    before the request), with only the parameters in ``ON_LOOP_PARAMS`` and none of the features
    that ``litellm.acompletion`` handles around its thread (fallbacks, agentic loop callbacks)."""
    provider = model.split("/", 1)[0]
    if provider == "openai":
        if kwargs.get("client") is None:
            return False
    elif provider != "scripted":
        return False
    return kwargs.keys() <= ON_LOOP_PARAMS and not litellm.model_fallbacks and _no_agentic_gate()


def _plain_tokens(response: Any) -> tuple[int, int] | None:
    """(prompt, completion) tokens of an answer whose usage has nothing else (no cached, audio or
    reasoning tokens, no tool use priced apart), or None: only litellm knows its price."""
    if type(response) is not ModelResponse:
        return None
    usage = getattr(response, "usage", None)
    if usage is None:
        return None
    data = usage.model_dump() if hasattr(usage, "model_dump") else dict(usage)
    p, c = data.get("prompt_tokens"), data.get("completion_tokens")
    if type(p) is not int or type(c) is not int or p < 0 or c < 0:
        return None

    def empty(v: Any) -> bool:
        if isinstance(v, dict):
            return all(empty(x) for x in v.values())
        return not v

    if not all(empty(v) for k, v in data.items() if k not in ("prompt_tokens", "completion_tokens", "total_tokens")):
        return None
    return p, c


def _rates_of(model: str) -> tuple[float, float] | None:
    """The model's input and output USD per token from litellm's cost map, when a price is only those two."""
    try:
        info = litellm.get_model_info(model)
    except Exception:  # not in the cost map (a custom provider, a local model): litellm prices it
        return None
    a, b = info.get("input_cost_per_token"), info.get("output_cost_per_token")
    if type(a) is not float or type(b) is not float:
        return None
    if any(v is not None and ("above" in k or "peak" in k or "tier" in k) for k, v in info.items()):
        return None  # tiered or time-dependent prices: litellm prices every answer
    return a, b


def _table_price(model: str, response: Any) -> float | None:
    """The answer's cost from the checked rates of its model, or None (litellm prices it)."""
    rates = _RATES.get((model, str(getattr(response, "model", ""))))
    tokens = _plain_tokens(response) if rates else None
    if rates is None or tokens is None:
        return None
    return tokens[0] * rates[0] + tokens[1] * rates[1]


def _learn_price(model: str, response: Any) -> None:
    """Check the rates against the cost litellm gave this answer; after ``PRICE_CHECKS`` exact matches use them."""
    key = (model, str(getattr(response, "model", "")))
    if key in _RATES:
        return
    tokens = _plain_tokens(response)
    hidden = getattr(response, "_hidden_params", None) or {}
    cost = hidden.get("response_cost")
    if tokens is None or not isinstance(cost, float):
        return
    rates = _rates_of(model)
    if rates is None or tokens[0] * rates[0] + tokens[1] * rates[1] != cost:
        _RATES[key] = None  # litellm prices this model's answers, every time
        return
    _CHECKED[key] = _CHECKED.get(key, 0) + 1
    if _CHECKED[key] >= PRICE_CHECKS:
        _RATES[key] = rates


async def acompletion_on_loop(**kwargs: Any) -> Any:
    """``litellm.acompletion(**kwargs)`` for a call ``on_loop_fits`` accepts, without the worker thread.

    When no callback but Agora's is registered (``SKIP_UNUSED_LOGGING``), litellm is told the call
    is one of its internal calls, which it does not log: its success and failure logging (a
    standard logging payload built per call, for nobody) is skipped. The flag is a context
    variable, set in the call's own task only.
    """
    token = _unlogged.set(True) if SKIP_UNUSED_LOGGING and _only_agora_callbacks() else None
    try:
        response = await acompletion(**kwargs)
        if PRICE_FROM_TABLE:
            _learn_price(str(kwargs.get("model")), response)
        return response
    finally:
        if token is not None:
            _unlogged.reset(token)


@_client
async def acompletion(model: str, messages: list[Any], **kwargs: Any) -> Any:
    """The body of ``litellm.acompletion`` for a call ``on_loop_fits`` accepts, run on the event loop.

    Named ``acompletion``: litellm's ``@client`` wrapper takes the call type from the name, and
    around this body it does what it does around ``litellm.acompletion``'s (its logging object,
    pre-call hooks, credentials, caching, the response's hidden parameters and cost, success
    and failure logging). In here, as in ``litellm.acompletion``, litellm's Python ``completion``
    prepares the request (``acompletion=True``: it returns the coroutine that sends it), but on
    the calling thread instead of a worker thread of the loop's default executor; its
    exceptions are mapped by litellm's ``exception_type`` as there.
    """
    kwargs.pop("acompletion", None)
    try:
        pending = _PYTHON_COMPLETION(model=model, messages=messages, acompletion=True, **kwargs)
        response = await pending if asyncio.iscoroutine(pending) else pending
        price = _table_price(model, response) if PRICE_FROM_TABLE else None
        if price is not None:  # litellm's wrapper keeps a cost already set instead of calculating it
            response._hidden_params = {**(response._hidden_params or {}), "response_cost": price}
        return response
    except Exception as err:
        mapped = _exception_type(
            model=model,
            custom_llm_provider=model.split("/", 1)[0],
            original_exception=err,
            completion_kwargs={"model": model, "messages": messages},
            extra_kwargs=kwargs,
        )
        raise mapped  # noqa: B904  # as litellm.acompletion raises it: the original is its __context__
