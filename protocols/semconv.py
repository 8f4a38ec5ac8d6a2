"""Span and attribute names, in one place for every package that records or reads spans.

GenAI names follow the OpenTelemetry GenAI semantic conventions; market facts use ``agora.*``.
"""

from __future__ import annotations

# span names
SPAN_SESSION = "session.run"
SPAN_ROUND = "session.round"
SPAN_AGENT_TURN = "invoke_agent"
SPAN_CHAT = "chat"
SPAN_SUBMIT = "protocol.submit"
SPAN_SETTLE = "market.settle"
SPAN_POLICY = "policy.change"

# agora.* market facts
RUN_ID = "agora.run.id"
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
