"""The app's data layer: the only part of ``ui`` that touches the store, through ``traces``' read API.

The store is a cached resource (one engine per URL); queries are cached for a few seconds so
pages stay fast and still follow a live run. Money comes back in currency units. Writes are
control rows (``traces.control``) that the running session applies at its next round, each
recorded with who wrote it and when. Pages use ``from ui import data`` and the names below.
"""

from ui.data.core import (
    clear,
    commands,
    db_url,
    is_live,
    policy_in_force,
    policy_versions,
    run,
    runs,
    store,
)
from ui.data.market import benchmarks, competitive_band, prices, rounds, trade_network
from ui.data.observed import agent_extras, alert_records, alerts, llm_calls, trace_for
from ui.data.overview import agents_overview
from ui.data.records import (
    actions,
    agents,
    balance,
    balances_at,
    deals_in,
    services,
    thread,
    transaction,
    transactions_page,
    violations,
)
from ui.data.spans import call_record, deal_trace, messages, round_trace, turn_trace
from ui.data.writes import (
    record_attempt,
    replay_available,
    start_demo,
    start_fork,
    submit_command,
    submit_policy,
    submit_review,
    verify_replay,
    write_attempts,
)

__all__ = [
    "record_attempt",
    "write_attempts",
    "agents_overview",
    "turn_trace",
    "round_trace",
    "messages",
    "deal_trace",
    "call_record",
    "actions",
    "agent_extras",
    "agents",
    "alert_records",
    "alerts",
    "balance",
    "balances_at",
    "benchmarks",
    "clear",
    "commands",
    "competitive_band",
    "db_url",
    "deals_in",
    "is_live",
    "llm_calls",
    "policy_in_force",
    "policy_versions",
    "prices",
    "replay_available",
    "rounds",
    "run",
    "runs",
    "services",
    "start_demo",
    "start_fork",
    "store",
    "submit_command",
    "submit_policy",
    "submit_review",
    "thread",
    "trace_for",
    "trade_network",
    "transaction",
    "transactions_page",
    "verify_replay",
    "violations",
]
