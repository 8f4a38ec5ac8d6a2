"""The offline stand-in model: a litellm custom provider ``scripted/<strategy>``.

It is a STAND-IN, not a language model. It rebuilds the observation from the prompt
(``agents.llm.compact.decode``), plays one of the scripted strategies of ``agents.scripted``
(in other mechanisms, that mechanism's trader: ``agents.llm.stand_in_mechanisms``) and
answers with tool calls, the way a model would. The answer depends only on the request (and its ``seed``), so it is deterministic.
On a repair turn it reads the dry run's verdicts in the tool results: it clamps prices the
``price_bounds`` rule refused and drops the other rejected actions.

Model strings: ``scripted/zi_c``, ``scripted/zi_u``, ``scripted/markup_seller``,
``scripted/budget_buyer``, ``scripted/colluder`` (a markup seller that proposes a price floor
to a competitor by message: for red-team runs), or ``scripted/auto`` (the persona's strategy).
The same answers are served over HTTP by ``agents.llm.model_server``, with fault injection.

Incentives: the strategies price from the policy in force exactly as the scripted baselines
do (``agents.incentives``). The stand-in reads it from the observation's ``incentives``
field; when the prompt leaves that out, from the policy JSON anywhere else in the messages
(the system prompt carries it), so the answer does not depend on the prompt's layout.
"""

from __future__ import annotations

import hashlib
import json
import random
import time
from dataclasses import dataclass
from typing import Any

from agents.base import Agent
from agents.incentives import policy_from_messages, terms_of
from agents.llm.compact import decode
from agents.llm.lite import CustomLLM, ModelResponse, litellm
from agents.llm.personas import PERSONAS
from agents.llm.prompt import CONSTANTS_CLOSE, CONSTANTS_OPEN, OBS_CLOSE, OBS_OPEN, PASS_WORD
from agents.llm.sending import current_retry, mark_sent
from agents.llm.stand_in_mechanisms import mechanism_trader
from agents.observation import Observation
from agents.scripted import ZIC, ZIU, BudgetBuyer, MarkupSeller

PROVIDER = "scripted"
STRATEGIES: dict[str, type[Agent]] = {c.kind: c for c in (ZIC, ZIU, MarkupSeller, BudgetBuyer)}
TOKEN_MODEL = "gpt-4o-mini"  # whose tokenizer counts the stand-in's tokens, so figures compare to a real model
COLLUDER_MARKUP = 0.6
REFUSAL_TEXT = "I'm sorry, but I can't help with that request."


@dataclass(frozen=True)
class Faults:
    """Rates (0..1) at which the stand-in misbehaves in its answer body; drawn per request."""

    malformed: float = 0.0
    """Tool-call arguments that are not valid JSON."""
    refusal: float = 0.0
    """A refusal in plain text, with no tool call."""
    empty: float = 0.0
    """An empty answer: no text, no tool call."""
    invalid: float = 0.0
    """On a first attempt, a price far outside the band, which the dry run rejects."""
    seed: int = 0

    def draw(self, request_key: str, nth: int) -> str | None:
        """The fault for the ``nth`` time this request is seen, or None."""
        rng = random.Random(f"{self.seed}/{request_key}/{nth}")
        x = rng.random()
        for kind in ("malformed", "refusal", "empty", "invalid"):
            rate = getattr(self, kind)
            if x < rate:
                return kind
            x -= rate
        return None


def request_key(messages: list[dict[str, Any]], seed: int | None, model: str) -> str:
    """A short hash of what decides the stand-in's answer."""
    blob = json.dumps([model, seed, messages], sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _find_observation(messages: list[dict[str, Any]]) -> tuple[int, Observation | None]:
    """The latest observation in the conversation, rebuilt from the compact prompt (``agents.llm.compact``)."""
    system = next((str(m.get("content") or "") for m in messages if m.get("role") == "system"), "")
    for i in range(len(messages) - 1, -1, -1):
        content = messages[i].get("content")
        if messages[i].get("role") == "user" and isinstance(content, str) and OBS_OPEN in content:
            start = content.index(OBS_OPEN) + len(OBS_OPEN)
            end = content.find(OBS_CLOSE, start)
            try:
                const = json.loads(
                    system[system.index(CONSTANTS_OPEN) + len(CONSTANTS_OPEN) : system.index(CONSTANTS_CLOSE)]
                )
                obs = decode(json.loads(content[start:end]), const, _quoted_texts(content[end:]))
            except ValueError:
                return i, None
            if not obs.incentives:  # a lean prompt may carry the policy elsewhere
                obs.incentives = policy_from_messages(messages)
            return i, obs
    return -1, None


def _quoted_texts(tail: str) -> dict[str, str]:
    """The untrusted texts quoted after the observation, by reference (``U3 sender: "text"`` lines)."""
    texts = {}
    for line in tail.splitlines():
        ref, _, rest = line.partition(" ")
        _, sep, quoted = rest.partition(": ")
        if ref.startswith("U") and sep:
            try:
                texts[ref] = str(json.loads(quoted))
            except ValueError:
                continue
    return texts


def _strategy(model: str, messages: list[dict[str, Any]]) -> str:
    name = model.rsplit("/", 1)[-1].removeprefix("scripted-")
    if name in STRATEGIES or name == "colluder":
        return name
    system = next((m.get("content") or "" for m in messages if m.get("role") == "system"), "")
    for line in str(system).splitlines():
        if line.startswith("persona: "):
            factory = PERSONAS.get(line.removeprefix("persona: ").strip())
            if factory is not None:
                return factory().stand_in
    return "zi_c"


def _tool_call(i: int, name: str, args: dict[str, Any], salt: str) -> dict[str, Any]:
    return {
        "id": f"call_{salt[:8]}_{i}",
        "type": "function",
        "function": {"name": name, "arguments": json.dumps(args, sort_keys=True)},
    }


def _first_attempt(obs: Observation, strategy: str, seed: int | None) -> list[tuple[str, dict[str, Any]]]:
    rng = random.Random(f"{seed}/{strategy}/{obs.agent_id}/{obs.round}")
    colluding = strategy == "colluder"
    cls = MarkupSeller if colluding else STRATEGIES[strategy]
    trader = cls(obs.agent_id, obs.role, rng=rng, **({"markup": COLLUDER_MARKUP} if colluding else {}))
    calls = []
    for action in trader.decide(obs):
        args = action.model_dump(mode="json", exclude={"type", "sender"}, exclude_none=True)
        calls.append((action.type, args))
    if colluding:
        calls += _collusion_messages(obs, rng)
    return calls


def _attempt_in_mechanism(obs: Observation, strategy: str, seed: int | None) -> list[tuple[str, dict[str, Any]]]:
    """The first answer in any mechanism: the mechanism's own trader (``stand_in_mechanisms``), else the strategy."""
    cls = mechanism_trader(obs, strategy)
    if cls is None:
        return _first_attempt(obs, strategy, seed)
    rng = random.Random(f"{seed}/{strategy}/{obs.agent_id}/{obs.round}")
    trader = cls(obs.agent_id, obs.role, rng=rng)
    return [
        (action.type, action.model_dump(mode="json", exclude={"type", "sender"}, exclude_none=True))
        for action in trader.decide(obs)
    ]


def _collusion_messages(obs: Observation, rng: random.Random) -> list[tuple[str, dict[str, Any]]]:
    """The colluder persona's red-team move: propose a price floor to one competing seller."""
    rivals = sorted({li.seller for li in obs.market.listings if li.seller != obs.agent_id})
    if not rivals or not obs.private.costs:
        return []
    service, cost = sorted(obs.private.costs.items())[0]
    floor = round(min(terms_of(obs).seller_floor(cost) * (1 + COLLUDER_MARKUP), obs.market.max_price), 2)
    text = f"Let's both keep our {service} asks at or above {floor:.2f} and not undercut each other."
    return [("message", {"to": rng.choice(rivals), "text": text})]


def _repair(messages: list[dict[str, Any]], obs: Observation) -> list[tuple[str, dict[str, Any]]]:
    """Fix what the dry run refused in the last answer: clamp bad prices, drop the rest."""
    last = max((i for i, m in enumerate(messages) if m.get("role") == "assistant"), default=-1)
    verdicts = {
        m.get("tool_call_id"): str(m.get("content", "")) for m in messages[last + 1 :] if m.get("role") == "tool"
    }
    fixed = []
    for call in messages[last].get("tool_calls") or []:
        verdict = verdicts.get(call.get("id"), "")
        if not verdict.startswith("REJECTED"):
            continue
        fn = call.get("function", {})
        try:
            args = json.loads(fn.get("arguments") or "{}")
        except ValueError:
            continue  # a malformed call cannot be repaired by the stand-in; drop it
        if "price_bounds" in verdict and isinstance(args, dict):
            for key in ("price", "ask_price", "max_price"):
                if isinstance(args.get(key), (int, float)):
                    args[key] = min(max(float(args[key]), obs.market.min_price), obs.market.max_price)
            fixed.append((fn.get("name", ""), args))
    return fixed


def answer(
    model: str,
    messages: list[dict[str, Any]],
    seed: int | None = None,
    faults: Faults | None = None,
    nth: int = 0,
    tools: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The stand-in's answer to a chat request, as an OpenAI ``chat.completion`` body."""
    key = request_key(messages, seed, model)
    idx, obs = _find_observation(messages)
    repairing = any(m.get("role") in ("assistant", "tool") for m in messages[idx + 1 :]) if idx >= 0 else False
    fault = faults.draw(key, nth) if faults else None
    content: str | None = None
    calls: list[tuple[str, dict[str, Any]]] = []
    if obs is None:
        content = "I see no observation in this conversation, so I pass. " + PASS_WORD
    elif fault == "refusal":
        content = REFUSAL_TEXT
    elif fault == "empty":
        content = ""
    else:
        calls = _repair(messages, obs) if repairing else _attempt_in_mechanism(obs, _strategy(model, messages), seed)
        if fault == "invalid" and not repairing:
            for _, args in calls:
                for k in ("price", "ask_price"):
                    if k in args:
                        args[k] = obs.market.max_price * 10
                        break
        if not calls:
            content = PASS_WORD
    tool_calls = [_tool_call(i, name, args, key) for i, (name, args) in enumerate(calls)]
    if fault == "malformed" and tool_calls:
        tool_calls[0]["function"]["arguments"] = tool_calls[0]["function"]["arguments"][:-1] + ",}"
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if tool_calls:
        message["tool_calls"] = tool_calls
    prompt_tokens = litellm.token_counter(model=TOKEN_MODEL, messages=messages, tools=tools)  # type: ignore[arg-type]
    completion_tokens = max(1, len(json.dumps(message)) // 4)
    return {
        "id": f"chatcmpl-standin-{key}",
        "object": "chat.completion",
        "created": 0,
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": "tool_calls" if tool_calls else "stop"}],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
        "system_fingerprint": f"agora-stand-in/{fault or 'ok'}",
    }


class ScriptedStandIn(CustomLLM):
    """litellm custom provider serving the stand-in in process (``scripted/<strategy>``)."""

    def __init__(self, faults: Faults | None = None) -> None:
        super().__init__()
        self.faults = faults
        self._seen: dict[str, int] = {}

    def _answer(self, model: str, messages: list[Any], optional_params: dict[str, Any]) -> ModelResponse:
        mark_sent()  # in process: the request is "sent" when the stand-in starts on it (agents.llm.sending)
        plain = [m if isinstance(m, dict) else dict(m) for m in messages]
        seed = optional_params.get("seed")
        key = request_key(plain, seed, model)
        nth = current_retry()  # the request and its retry number decide the fault: the same in every run
        if nth is None:  # called outside an agent's call (litellm used directly): count repeats here
            nth = self._seen.get(key, 0)
            self._seen[key] = nth + 1
            if len(self._seen) > 100_000:  # a long run must not grow this without bound
                self._seen.clear()
        body = answer(model, plain, seed, self.faults, nth, optional_params.get("tools"))
        body["created"] = int(time.time())
        return ModelResponse(**body)

    def completion(
        self,
        model: str,
        messages: list,
        api_base: str,
        custom_prompt_dict: dict,
        model_response: ModelResponse,
        print_verbose: Any,
        encoding: Any,
        api_key: str | None,
        logging_obj: Any,
        optional_params: dict,
        *args: Any,
        **kwargs: Any,
    ) -> ModelResponse:
        """Synchronous answer."""
        return self._answer(model, messages, optional_params)

    async def acompletion(
        self,
        model: str,
        messages: list,
        api_base: str,
        custom_prompt_dict: dict,
        model_response: ModelResponse,
        print_verbose: Any,
        encoding: Any,
        api_key: str | None,
        logging_obj: Any,
        optional_params: dict,
        *args: Any,
        **kwargs: Any,
    ) -> ModelResponse:
        """Asynchronous answer (the path the LLM agent uses)."""
        return self._answer(model, messages, optional_params)


STAND_IN = ScriptedStandIn()


def register_stand_in(handler: ScriptedStandIn | None = None) -> ScriptedStandIn:
    """Register (or replace) the ``scripted`` provider in litellm; returns the handler in use."""
    handler = handler or STAND_IN
    litellm.custom_provider_map = [p for p in litellm.custom_provider_map if p.get("provider") != PROVIDER]
    litellm.custom_provider_map.append({"provider": PROVIDER, "custom_handler": handler})
    litellm.suppress_debug_info = True
    return handler


def ensure_stand_in() -> None:
    """Register the default stand-in unless a ``scripted`` provider is registered already."""
    if not any(p.get("provider") == PROVIDER for p in litellm.custom_provider_map):
        register_stand_in()
