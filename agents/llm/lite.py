"""The one door to litellm: every module of Agora imports litellm from here, never directly.

Importing litellm fetches the model cost map from the network unless
``LITELLM_LOCAL_MODEL_COST_MAP`` is set when it loads; this module sets it (unless the caller
already chose a value) and only then imports litellm. Importing ``agents.llm`` or ``sandbox`` does
not import this module: litellm takes seconds to load, so its users import ``lite`` on first use.
"""

import os

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import litellm  # noqa: E402
from litellm import CustomLLM, ModelResponse  # noqa: E402
from litellm.integrations.custom_logger import CustomLogger  # noqa: E402
from litellm.llms.openai.openai import OpenAIChatCompletion  # noqa: E402

__all__ = ["CustomLLM", "CustomLogger", "ModelResponse", "OpenAIChatCompletion", "litellm"]
