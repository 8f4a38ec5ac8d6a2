"""Answers to LLM calls from a run's record, never from a model.

During a replay every LLM agent looks its calls up here (``CallSettings.answers``): the agent
hashes each request as it did when it recorded it, and the next unused recorded call with
that hash gives the answer, or the recorded fault (so retries replay too). It is a lookup in a
dict by hash: no litellm (a replay does not even import it), no thread, no HTTP. The same record
can also be made a litellm custom provider (``install``, which a replay does not call; the model
string, and so the hash, stay as they were) for callers that go through litellm. A request the record does not hold is a divergence: it is reported with a
diff against the closest recorded request of the round, and the call fails.
No token is spent and no network call is made.
"""

from __future__ import annotations

import difflib
import json
import re
import time
import uuid
from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from agents.llm.calls import first_difference, request_hash, request_view, tools_hash
from agents.llm.model_call import RecordedAnswer
from agents.llm.sending import mark_sent
from sandbox.replay.verify import Divergence

NOT_RECORDED = "replay: this request is not in the record (see the replay report)"
SAMPLING = ("temperature", "top_p", "max_tokens", "seed", "tool_choice", "parallel_tool_calls")


def _fault_error(fault: str, message: str, model: str) -> Exception:
    """An exception the agent classifies as the recorded fault kind."""
    from agents.llm.lite import litellm

    provider = model.split("/", 1)[0]
    if fault == "rate_limited":
        return litellm.RateLimitError(message, provider, model)
    if fault == "server_error":
        return litellm.InternalServerError(message, provider, model)
    if fault == "timeout":
        return litellm.Timeout(message, model, provider)
    if fault == "auth":
        return litellm.AuthenticationError(message, provider, model)
    if fault == "bad_request":
        return litellm.BadRequestError(message, model, provider)
    if fault == "connection":
        err = litellm.APIConnectionError(message, provider, model)
        err.status_code = None  # type: ignore[assignment]  # litellm's default 500 would read as a server error
        return err
    return litellm.APIError(status_code=418, message=message, llm_provider=provider, model=model)


def _pretty(model: str, params: Mapping[str, Any], tools_sha: str, messages: Iterable[Mapping[str, Any]]) -> list[str]:
    lines = [f"model: {model}", f"params: {json.dumps(dict(params), sort_keys=True)}", f"tools sha256: {tools_sha}"]
    for i, m in enumerate(messages):
        rest = {k: v for k, v in m.items() if k not in ("role", "content")}
        lines.append(f"[{i}] {m.get('role')}" + (f" {json.dumps(rest, sort_keys=True, default=str)}" if rest else ""))
        lines += [f"[{i}] | {line}" for line in str(m.get("content") or "").splitlines()]
    return lines


_AGENT = re.compile(r'"agent_id"\s*:\s*"([^"]+)"|You are agent ([\w-]+)')


def _agent_of(messages: Iterable[Mapping[str, Any]]) -> str | None:
    """The agent a request is for, when its observation names it."""
    for m in messages:
        found = _AGENT.search(str(m.get("content") or ""))
        if found:
            return found.group(1) or found.group(2)
    return None


class RecordedModel:
    """The record of a run's LLM calls, served by request hash; see the module docstring."""

    complete = True  # every call is answered from here (a request it lacks is a divergence): no model, no graph

    def __init__(self, rows: Iterable[Mapping[str, Any]], current_round: Callable[[], int]) -> None:
        self.provider = f"agora-replay-{uuid.uuid4().hex[:8]}"
        self.current_round = current_round
        self.by_hash: dict[str, deque[Mapping[str, Any]]] = defaultdict(deque)
        self.rows = [r for r in rows if r.get("event") == "call"]
        for r in self.rows:
            self.by_hash[r["request_hash"]].append(r)
        self.used: set[tuple[int, str, int]] = set()
        self.served = 0
        self.lookup_seconds = 0.0  # time spent finding and rebuilding answers (benchmarks print it)
        self.divergence: Divergence | None = None
        self._handler: Any = None

    # --- litellm wiring -----------------------------------------------------------------
    def install(self) -> str:
        """Register the provider with litellm; returns its name for ``custom_llm_provider``."""
        from agents.llm.lite import CustomLLM, litellm

        outer = self

        class _Handler(CustomLLM):
            async def acompletion(self, model: str, messages: list, *args: Any, **kwargs: Any) -> Any:  # noqa: ANN001
                return outer.answer(
                    model, messages, kwargs.get("optional_params") or (args[7] if len(args) > 7 else {})
                )

            def completion(self, model: str, messages: list, *args: Any, **kwargs: Any) -> Any:  # noqa: ANN001
                return outer.answer(
                    model, messages, kwargs.get("optional_params") or (args[7] if len(args) > 7 else {})
                )

        self._handler = _Handler()
        litellm.custom_provider_map = [
            *litellm.custom_provider_map,
            {"provider": self.provider, "custom_handler": self._handler},
        ]
        litellm.suppress_debug_info = True
        return self.provider

    def uninstall(self) -> None:
        """Remove the provider from litellm (nothing to do, and litellm is not imported, if it was never installed)."""
        if self._handler is None:
            return
        from agents.llm.lite import litellm

        self._handler = None
        litellm.custom_provider_map = [p for p in litellm.custom_provider_map if p.get("provider") != self.provider]

    # --- answering ------------------------------------------------------------------------
    def lookup(
        self,
        request_hash: str,
        model: str,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]],
        params: dict[str, Any],
    ) -> RecordedAnswer:
        """The recorded answer to the request with this hash (the agent's own), or the recorded fault."""
        t0 = time.perf_counter()
        try:
            queue = self.by_hash.get(request_hash)
            if not queue:
                self._diverged(model, messages, tools, {k: params[k] for k in SAMPLING if k in params})
                return RecordedAnswer(None, fault="bad_request", error=NOT_RECORDED)
            row = queue.popleft()
            self.used.add((row["round"], row["agent_id"], row["seq"]))
            self.served += 1
            if row.get("response_json") is None:
                return RecordedAnswer(None, fault=row.get("fault") or "error", error=row.get("error"))
            cut = row.get("fault") == "oversized"  # the answer was cut when recorded: the record says by how much
            return RecordedAnswer(
                json.loads(row["response_json"]),
                float(row.get("cost_usd") or 0.0),
                fault="oversized" if cut else None,
                error=row.get("error") if cut else None,
            )
        finally:
            self.lookup_seconds += time.perf_counter() - t0

    def answer(self, model: str, messages: list[Any], optional_params: Mapping[str, Any]) -> Any:
        """The recorded answer to this request, or the recorded fault raised again."""
        t0 = time.perf_counter()
        try:
            return self._answer(model, messages, optional_params)
        finally:
            self.lookup_seconds += time.perf_counter() - t0

    def _answer(self, model: str, messages: list[Any], optional_params: Mapping[str, Any]) -> Any:
        from agents.llm.lite import ModelResponse

        mark_sent()  # answered in process (agents.llm.sending)

        plain = [m if isinstance(m, dict) else dict(m) for m in messages]
        tools = list(optional_params.get("tools") or [])
        params = {k: optional_params[k] for k in SAMPLING if k in optional_params}
        rhash = request_hash(model, plain, tools, params)
        queue = self.by_hash.get(rhash)
        if not queue:
            self._diverged(model, plain, tools, params)
            raise _fault_error("bad_request", NOT_RECORDED, model)
        row = queue.popleft()
        self.used.add((row["round"], row["agent_id"], row["seq"]))
        self.served += 1
        if row.get("response_json") is None:
            raise _fault_error(row.get("fault") or "error", row.get("error") or "recorded fault", model)
        body = json.loads(row["response_json"])
        resp = ModelResponse(**body)
        resp._hidden_params["response_cost"] = float(row.get("cost_usd") or 0.0)
        return resp

    def _diverged(self, model: str, messages: list[dict[str, Any]], tools: list[Any], params: dict[str, Any]) -> None:
        if self.divergence is not None:
            return
        rnd = self.current_round()
        unused = [r for r in self.rows if (r["round"], r["agent_id"], r["seq"]) not in self.used]
        agent = _agent_of(messages)
        # The call that should have matched: the agent's next unused call of this round (then of
        # any later round, then any unused call), in the order the agent made them.
        best = min(
            (r for r in unused if r["agent_id"] == agent and r["round"] >= rnd),
            key=lambda r: (r["round"], r["seq"]),
            default=None,
        ) or min(unused or self.rows, key=lambda r: (r["round"] != rnd, r["round"], r["seq"]), default=None)
        if best is None:
            self.divergence = Divergence(rnd, "llm call", "request", "no LLM calls", "a call to " + model)
            return
        recorded = request_view(
            best["model"], json.loads(best["messages_json"]), best["tools_sha256"], json.loads(best["params_json"])
        )
        replayed = request_view(model, messages, tools_hash(tools), params)
        self.divergence = Divergence(
            rnd,
            "llm call",
            f"agent {best['agent_id']} seq {best['seq']}",
            f"request {best['request_hash'][:12]}",
            f"request {request_hash(model, messages, tools, params)[:12]}, which the record does not hold; "
            + describe_difference(recorded, replayed),
        )


def _excerpt(value: Any, other: Any, width: int = 160) -> str:
    """``value`` as JSON, cut around where it starts to differ from ``other`` when it is long."""
    a, b = json.dumps(value, sort_keys=True, default=str), json.dumps(other, sort_keys=True, default=str)
    if len(a) <= 2 * width:
        return a
    at = next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))
    lo = max(0, at - width // 2)
    return ("..." if lo else "") + a[lo : lo + width] + ("..." if lo + width < len(a) else "")


def describe_difference(recorded: Mapping[str, Any], replayed: Mapping[str, Any]) -> str:
    """The first differing field of two request views (path and both values), then a short line diff."""
    found = first_difference(recorded, replayed)
    if found is None:
        head = "the canonical requests are equal (the hash differs by something outside them)"
    else:
        path, a, b = found
        head = f"first difference at {path}: recorded {_excerpt(a, b)}, replayed {_excerpt(b, a)}"
    mine = _pretty(replayed["model"], replayed["params"], replayed["tools_sha256"], replayed["messages"])
    theirs = _pretty(recorded["model"], recorded["params"], recorded["tools_sha256"], recorded["messages"])
    diff = list(difflib.unified_diff(theirs, mine, "recorded", "replayed", n=0, lineterm=""))[:40]
    return head + "\nwhat changed:\n" + "\n".join(diff)


def llm_agents(agents: Mapping[str, Any]) -> int:
    """How many agents call a model through litellm (they have call settings with params)."""
    return sum(1 for a in agents.values() if isinstance(getattr(getattr(a, "settings", None), "params", None), dict))


def route_agents(agents: Mapping[str, Any], record: RecordedModel | JournalAnswers | None) -> int:
    """Answer LLM agents' calls from ``record`` (None: from their configured models again); returns how many."""
    n = 0
    for agent in agents.values():
        settings = getattr(agent, "settings", None)
        if settings is None or not isinstance(getattr(settings, "params", None), dict):
            continue
        settings.answers = record
        n += 1
    return n


def recorded_caps(agents: Mapping[str, Any], rows: Iterable[Mapping[str, Any]]) -> int:
    """Give each LLM agent the completion cap its recorded calls had; returns how many agents changed.

    Runs recorded before every call carried ``max_tokens`` (issue 19) have calls without it, and
    ``max_tokens`` is part of the request hash: such agents replay (and go on) without a cap.
    """
    first: dict[str, Mapping[str, Any]] = {}
    for r in rows:
        first.setdefault(r["agent_id"], r)
    n = 0
    for aid, row in first.items():
        params = getattr(getattr(agents.get(aid), "settings", None), "params", None)
        if isinstance(params, dict) and "max_tokens" in params:
            recorded = json.loads(row.get("params_json") or "{}")
            if "max_tokens" not in recorded:
                params.pop("max_tokens")
                n += 1
    return n


def stand_in_agents(agents: Mapping[str, Any]) -> int:
    """Answer LLM agents with the offline scripted stand-in from now on; returns how many."""
    from agents.llm.scripted_model import register_stand_in

    n = route_agents(agents, None)
    if n:
        register_stand_in()
        for agent in agents.values():
            settings = getattr(agent, "settings", None)
            if settings is not None and hasattr(settings, "model") and not str(settings.model).startswith("scripted/"):
                settings.model = agent.model = "scripted/auto"
    return n


class JournalAnswers:
    """The calls a killed run paid for in its round in progress (``llm_call_journal``), answered by hash.

    ``agora resume`` gives it to the LLM agents for the rounds after the last committed one: a
    request the journal holds is answered from it (its fault too, so a recorded retry is not
    paid twice); any other request returns None and the model is called.
    """

    complete = False  # requests it lacks go to the model

    def __init__(self, rows: Iterable[Mapping[str, Any]]) -> None:
        self.by_hash: dict[str, deque[Mapping[str, Any]]] = defaultdict(deque)
        for r in rows:
            if r.get("event") == "call":
                self.by_hash[r["request_hash"]].append(r)
        self.served = 0

    def __len__(self) -> int:
        return sum(len(q) for q in self.by_hash.values())

    def lookup(
        self,
        request_hash: str,
        model: str,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]],
        params: dict[str, Any],
    ) -> RecordedAnswer | None:
        """The paid answer to this request, or None (not in the journal: call the model)."""
        queue = self.by_hash.get(request_hash)
        if not queue:
            return None
        row = queue.popleft()
        self.served += 1
        body = json.loads(row["response_json"]) if row.get("response_json") is not None else None
        fault = row.get("fault") or (None if body is not None else "error")
        return RecordedAnswer(
            body,
            float(row.get("cost_usd") or 0.0),
            fault=fault,
            error=row.get("error"),
            latency_ms=float(row.get("latency_ms") or 0.0),
            queue_ms=float(row.get("queue_ms") or 0.0),
        )
