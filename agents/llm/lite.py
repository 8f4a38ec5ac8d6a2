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
        if asyncio.iscoroutine(pending):
            return await pending
        return pending
    except Exception as err:
        mapped = _exception_type(
            model=model,
            custom_llm_provider=model.split("/", 1)[0],
            original_exception=err,
            completion_kwargs={"model": model, "messages": messages},
            extra_kwargs=kwargs,
        )
        raise mapped  # noqa: B904  # as litellm.acompletion raises it: the original is its __context__


acompletion_on_loop = acompletion
