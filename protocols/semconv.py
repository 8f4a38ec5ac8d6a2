"""Span and attribute names, in one place for every package that records or reads spans.

GenAI names follow the OpenTelemetry GenAI semantic conventions; market facts use ``agora.*``.
"""

from __future__ import annotations

# span names
SPAN_SESSION = "session.run"
SPAN_ROUND = "session.round"
SPAN_AGENT_TURN = "invoke_agent"  # the turn of an LLM agent (GenAI conventions)
SPAN_AGENT_DECIDE = "agent.decide"  # the turn of a scripted agent: no model, so no GenAI operation
TURN_OPERATIONS = (SPAN_AGENT_TURN, SPAN_AGENT_DECIDE)
SPAN_CHAT = "chat"
SPAN_SUBMIT = "protocol.submit"
SPAN_SETTLE = "market.settle"
SPAN_POLICY = "policy.change"

# agora.* market facts
RUN_ID = "agora.run.id"
PROJECT_NAME = "openinference.project.name"  # resource attribute: the Phoenix project a run's spans go to
SESSION_ID = "session.id"  # the run id again, on trace roots: Phoenix and Langfuse group a run's traces by it
ROUND = "agora.round"
AGENT_ID = "agora.agent.id"
AGENT_ROLE = "agora.agent.role"
COUNTERPARTY = "agora.counterparty"
THREAD_ID = "agora.thread.id"
LISTING_ID = "agora.listing.id"
ACTION_TYPE = "agora.action.type"
ACTION_SEQ = "agora.action.seq"
ACTION_JSON = "agora.action.json"
PRICE = "agora.price"
VERDICT = "agora.verdict"
VERDICT_RULE = "agora.verdict.rule"
VERDICT_REASON = "agora.verdict.reason"
TX_ID = "agora.tx.id"

# OpenTelemetry GenAI semantic conventions
GEN_AI_OPERATION = "gen_ai.operation.name"
GEN_AI_PROVIDER = "gen_ai.provider.name"
GEN_AI_REQUEST_MODEL = "gen_ai.request.model"
GEN_AI_INPUT_TOKENS = "gen_ai.usage.input_tokens"
GEN_AI_OUTPUT_TOKENS = "gen_ai.usage.output_tokens"
GEN_AI_FINISH_REASONS = "gen_ai.response.finish_reasons"
GEN_AI_INPUT_MESSAGES = "gen_ai.input.messages"
GEN_AI_OUTPUT_MESSAGES = "gen_ai.output.messages"
GEN_AI_AGENT_NAME = "gen_ai.agent.name"
GEN_AI_AGENT_ID = "gen_ai.agent.id"
GEN_AI_SYSTEM_INSTRUCTIONS = "gen_ai.system_instructions"
GEN_AI_RESPONSE_MODEL = "gen_ai.response.model"
GEN_AI_RESPONSE_ID = "gen_ai.response.id"
GEN_AI_REQUEST_TEMPERATURE = "gen_ai.request.temperature"
GEN_AI_REQUEST_MAX_TOKENS = "gen_ai.request.max_tokens"
GEN_AI_REQUEST_SEED = "gen_ai.request.seed"
GEN_AI_REQUEST_TOP_P = "gen_ai.request.top_p"
ERROR_TYPE = "error.type"
SERVER_ADDRESS = "server.address"
SERVER_PORT = "server.port"
# cost in US dollars where the two common LLM backends read it (they do not read agora.llm.cost_usd)
GEN_AI_USAGE_COST = "gen_ai.usage.cost"  # Langfuse: overrides its own price estimate
OI_COST_TOTAL = "llm.cost.total"  # OpenInference (Arize Phoenix)
GEN_AI_CONTENT = (GEN_AI_INPUT_MESSAGES, GEN_AI_OUTPUT_MESSAGES, GEN_AI_SYSTEM_INSTRUCTIONS)
"""Attributes that carry prompt and completion text; left out of the record when capture is off."""

CAPTURE_CONTENT_ENV = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
"""The GenAI instrumentations' standard switch for prompt and completion text on spans."""


def content_capture(value: str | None, default: bool = True) -> bool:
    """Whether a value of the standard switch means prompt and completion text go on spans.

    Takes the boolean form (``true``/``false``) and the newer one (``NO_CONTENT``, ``SPAN_ONLY``,
    ``EVENT_ONLY``, ``SPAN_AND_EVENT``); Agora records content on spans only. Unset: ``default``.
    """
    if value is None or not value.strip():
        return default
    v = value.strip().lower()
    if v in ("true", "1", "yes", "on", "span_only", "span_and_event"):
        return True
    if v in ("false", "0", "no", "off", "no_content", "event_only"):
        return False
    return default


# more agora.* facts (money attributes are integer micro-units, like the ledger)
SCENARIO = "agora.scenario"
SEED = "agora.seed"
RUN_STATUS = "agora.run.status"
AGENT_KIND = "agora.agent.kind"
AGENT_ACTIONS = "agora.agent.actions"  # how many actions a turn returned
AGENT_TURN = "agora.agent.turn"  # "wait" on the span of a round the agent was not called (agents.wake)
AGENT_TURN_REASON = "agora.agent.turn.reason"  # why it waited
BUYER = "agora.buyer"
SELLER = "agora.seller"
SERVICE = "agora.service"
FEE = "agora.fee"
DEAL_STATUS = "agora.deal.status"
POLICY_AUTHOR = "agora.policy.author"
POLICY_REASON = "agora.policy.reason"
POLICY_CHANGES = "agora.policy.changes"  # JSON object of the fields that changed
POLICY_JSON = "agora.policy.json"

# marketic societies (sandbox.marketic): one auction span per step of an episode
SPAN_AUCTION = "market.auction"
MARKETIC_STATE = "agora.marketic.state"  # the state being auctioned
MARKETIC_ACTION = "agora.marketic.action"  # what the winner did with it
MARKETIC_REWARD = "agora.marketic.reward"  # the environment's reward for that step (units, float)
AUCTION_FIRST = "agora.auction.first"  # highest bid, micro-units
AUCTION_SECOND = "agora.auction.second"  # second-highest bid, micro-units
AUCTION_BIDS = "agora.auction.bids"  # how many sealed bids

# values of agora.verdict
VERDICT_ACCEPTED = "accepted"
VERDICT_REJECTED = "rejected"

# LLM calls (agents.llm): what links a chat span to its row in llm_calls
LLM_REQUEST_HASH = "agora.llm.request_hash"
LLM_CALL_SEQ = "agora.llm.call_seq"
LLM_FAULT = "agora.llm.fault"  # one of agents.llm.calls.FAULTS
LLM_COST = "agora.llm.cost_usd"  # litellm's cost estimate, in US dollars (a float, not ledger money)

# events
EVENT_CONTROL = "control.command"  # on the round span: a control command the session applied
CONTROL_KIND = "agora.control.kind"
CONTROL_AUTHOR = "agora.control.author"
CONTROL_OUTCOME = "agora.control.outcome"

# the safety layer: span events on the round span (sandbox/safety/layer.py)
EVENT_ALERT = "safety.alert"
EVENT_BREAKER = "safety.breaker"
EVENT_INTERVENTION = "safety.intervention"
ALERT_ID = "agora.alert.id"
ALERT_KIND = "agora.alert.kind"
ALERT_SEVERITY = "agora.alert.severity"
ALERT_AGENTS = "agora.alert.agents"
ALERT_STATUS = "agora.alert.status"
BREAKER_NAME = "agora.breaker.name"
BREAKER_SUBJECT = "agora.breaker.subject"
BREAKER_STATE = "agora.breaker.state"
INTERVENTION_STEP = "agora.intervention.step"
