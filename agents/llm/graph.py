"""The LLM agent's turn as a LangGraph graph.

    call -> check -> end
     ^ |      |
     '-'      '-- repair (rejections, bounded) --> call
    nudge

``call`` builds the opening messages on the turn's first pass, asks the model and reads the
answer's tool calls (an answer with none and no pass word gets a nudge and another call);
``check`` dry-runs the actions and feeds every verdict back. Two nodes, not one per step: each
LangGraph super-step costs about 0.3 ms of CPU, more than the node's own work
(``benchmarks/bench_llm.py graph``).

``AgentState`` holds what changes during the turn (messages, actions that passed the dry
run, faults); ``TurnContext`` holds what does not (model settings, the dry run, the pool,
the bounds) and travels as LangGraph's run context, outside the state.

Every node and router is ``async def`` although only ``call`` awaits: LangGraph runs a plain
function of an async graph in a worker thread, which cost six thread hops a turn.
"""

from __future__ import annotations

import json
import operator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, TypedDict, cast, get_origin, get_type_hints

from agents.base import DryRun
from agents.llm import prompt as pr
from agents.llm.budget import CallPool
from agents.llm.calls import CallRecord
from agents.llm.model_call import CallLog, CallSettings, call_model
from agents.observation import Observation
from protocols.actions import ActionBase, ActionParseError, parse_action

if TYPE_CHECKING:  # langgraph loads when the graph is first built (a replay never builds it: run_direct)
    from langgraph.runtime import Runtime

END = "__end__"  # langgraph.graph.END (build_graph checks it)


class AgentState(TypedDict, total=False):
    """What a turn accumulates; nodes return partial updates merged by these reducers."""

    messages: Annotated[list[dict[str, Any]], operator.add]
    actions: Annotated[list[ActionBase], operator.add]
    faults: Annotated[list[str], operator.add]
    pending: list[dict[str, Any]]  # the tool calls of the latest answer (replaced each answer)
    answers: int  # model answers received this turn
    status: str  # "call", "parse", "check" or "end"
    end_reason: str


@dataclass
class TurnContext:
    """The run context of one turn: fixed while the graph runs."""

    obs: Observation
    check: DryRun
    settings: CallSettings
    log: CallLog
    pool: CallPool
    tools: list[dict[str, Any]]
    persona: str
    persona_text: str
    memory: pr.Memory
    max_answers: int
    max_actions: int
    last_record: CallRecord | None = None

    def note_fault(self, kind: str) -> None:
        """Mark the latest call's record with a fault found in its answer (first one wins)."""
        if self.last_record is not None and self.last_record.fault is None:
            self.last_record.fault = kind


def opening(ctx: TurnContext) -> list[dict[str, Any]]:
    """Opening messages from the observation, persona and memory."""
    return pr.build_messages(ctx.obs, ctx.persona, ctx.persona_text, ctx.memory)


async def call(state: AgentState, runtime: Runtime[TurnContext]) -> dict[str, Any]:
    """Ask the model (with the opening messages on the turn's first pass) and read its answer.

    On a final failure the turn ends with the reason; an answer's tool calls go to ``check``.
    """
    ctx = runtime.context
    history = state.get("messages") or []
    first = [] if history else opening(ctx)
    answers = state.get("answers", 0)
    message, rec = await call_model(
        ctx.log, ctx.settings, ctx.pool, history + first if first else history, ctx.tools, ctx.obs.round, answers + 1
    )
    ctx.last_record = rec
    if message is None:
        if rec is None:
            reason, fault = ctx.log.stopped or "no call was made", "budget"
        else:
            reason, fault = f"model call failed: {rec.error}", rec.fault or "error"
        return {"messages": first, "status": "end", "end_reason": reason, "faults": [fault], "answers": answers}
    clean: dict[str, Any] = {"role": "assistant", "content": message.get("content")}
    if message.get("tool_calls"):
        clean["tool_calls"] = [
            {"id": c.get("id") or f"call_{i}", "type": "function", "function": dict(c.get("function") or {})}
            for i, c in enumerate(message["tool_calls"])
        ]
    update = parse(clean, answers + 1, ctx)
    update["messages"] = [*first, clean, *update.get("messages", [])]
    update["answers"] = answers + 1
    return update


def parse(answer: dict[str, Any], answers: int, ctx: TurnContext) -> dict[str, Any]:
    """The answer's tool calls as pending actions; a nudge after an answer with none (its update)."""
    calls = answer.get("tool_calls") or []
    if calls:
        return {"pending": calls, "status": "check"}
    text = (answer.get("content") or "").strip()
    if text.upper().rstrip(".") == pr.PASS_WORD or text.upper().endswith(" " + pr.PASS_WORD):
        return {"status": "end", "end_reason": "passed"}
    kind = "empty" if not text else "refusal"
    ctx.note_fault(kind)
    left = ctx.max_answers - answers
    if left <= 0:
        return {"status": "end", "end_reason": f"no tool call after {answers} answers", "faults": [kind]}
    return {"messages": [pr.nudge_message(left)], "status": "call", "faults": [kind]}


def _to_action(call_: dict[str, Any]) -> ActionBase:
    fn = call_.get("function") or {}
    name = str(fn.get("name") or "")
    raw = fn.get("arguments") or "{}"
    try:
        args = json.loads(raw) if isinstance(raw, str) else raw
    except json.JSONDecodeError as err:  # what json.loads raises for a str that is not JSON
        raise ActionParseError(
            f"the arguments of '{name}' are not valid JSON ({err.msg} at position {err.pos})"
        ) from None
    if not isinstance(args, dict):
        raise ActionParseError(f"the arguments of '{name}' must be a JSON object")
    return parse_action({**args, "type": name})


async def check(state: AgentState, runtime: Runtime[TurnContext]) -> dict[str, Any]:
    """Dry-run each pending action on the round-start view; feed every verdict back."""
    ctx = runtime.context
    kept = len(state.get("actions", []))
    accepted: list[ActionBase] = []
    feedback: list[dict[str, Any]] = []
    faults: list[str] = []
    rejected = 0
    for c in state["pending"]:
        name = str((c.get("function") or {}).get("name") or "")
        try:
            action = _to_action(c)
        except ActionParseError as err:
            faults.append("malformed")
            feedback.append(pr.feedback_message(c["id"], name, f"REJECTED (schema): {err}"))
            rejected += 1
            continue
        if kept + len(accepted) >= ctx.max_actions:
            verdict_text = f"REJECTED (rate_limit): at most {ctx.max_actions} actions per turn"
            rejected += 1
        else:
            verdict = ctx.check(action)
            if verdict.accepted:
                accepted.append(action)
                verdict_text = "ACCEPTED by the check; it will be submitted"
            else:
                faults.append("invalid")
                verdict_text = f"REJECTED ({verdict.rule}): {verdict.reason}"
                rejected += 1
        feedback.append(pr.feedback_message(c["id"], name, verdict_text))
    for f in faults[:1]:
        ctx.note_fault(f)
    update: dict[str, Any] = {"messages": feedback, "actions": accepted, "faults": faults, "pending": []}
    left = ctx.max_answers - state.get("answers", 0)
    if rejected and left > 0:
        update["messages"] = feedback + [pr.repair_message(rejected, left)]
        update["status"] = "call"
    else:
        update["status"] = "end"
        update["end_reason"] = "done" if not rejected else f"{rejected} action(s) still rejected after the repair bound"
    return update


async def _route(state: AgentState) -> str:
    return END if state.get("status") == "end" else state["status"]


def build_graph() -> Any:
    """The compiled turn graph (compiled once, shared by every LLM agent)."""
    from langgraph import graph as lg

    if lg.END != END:
        raise RuntimeError(f"langgraph's END is {lg.END!r}, not {END!r}: update agents.llm.graph.END")
    StateGraph, START = lg.StateGraph, lg.START  # noqa: N806
    g = StateGraph(AgentState, context_schema=TurnContext)
    g.add_node("call", call)
    g.add_node("check", check)
    g.add_edge(START, "call")
    g.add_conditional_edges("call", _route, ["check", "call", END])
    g.add_conditional_edges("check", _route, ["call", END])
    return g.compile()


_GRAPH: Any = None


def turn_graph() -> Any:
    """The shared compiled graph, built on first use."""
    global _GRAPH
    if _GRAPH is None:
        _GRAPH = build_graph()
    return _GRAPH


DIRECT_MAX_ANSWERS = 12
"""``run_direct`` serves turns of at most this many answers: at most 24 node runs, far under
LangGraph's recursion limit (25 at the lowest it has had; 10,007 today), so the graph could not
have stopped such a turn where ``run_direct`` does not."""

REDUCERS: dict[str, Any] = {
    key: hint.__metadata__[0]
    for key, hint in get_type_hints(AgentState, include_extras=True).items()
    if get_origin(hint) is Annotated
}
"""The reducers of ``AgentState``'s annotated keys (``operator.add``: updates appended), read from the
annotations LangGraph reads; every other key is replaced."""


@dataclass
class DirectRuntime:
    """What the nodes read of LangGraph's ``Runtime``: the turn's context."""

    context: TurnContext


async def run_direct(ctx: TurnContext) -> dict[str, Any]:
    """The turn graph's walk without LangGraph: the same nodes, routes and reducers, no super-steps.

    For turns whose every call is answered from a record (a replay): each node runs in turn on
    the state so far, its update merged as ``AgentState``'s reducers merge it, and ``_route``
    picks the next node, as ``turn_graph().ainvoke({}, context=ctx)`` does, without LangGraph's
    per-step tasks, checkpoints, config merging and callbacks (about 1.5 ms of CPU a turn).
    Returns the final state (keys never written are absent; callers read them with defaults).
    """
    if ctx.max_answers > DIRECT_MAX_ANSWERS:
        raise ValueError(f"run_direct serves turns of at most {DIRECT_MAX_ANSWERS} answers, not {ctx.max_answers}")
    state: dict[str, Any] = {}
    runtime = cast("Runtime[TurnContext]", DirectRuntime(ctx))
    node = call
    while True:
        update = await node(cast(AgentState, state), runtime)
        for key, value in update.items():
            reduce = REDUCERS.get(key)
            state[key] = reduce(state.get(key, []), value) if reduce else value  # the keys are lists, as in the graph
        nxt = await _route(cast(AgentState, state))
        if nxt == END:
            return state
        node = call if nxt == "call" else check
