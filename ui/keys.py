"""Session-state and query-parameter keys, in one place so pages never disagree on a name."""

from __future__ import annotations

DB_ENV = "AGORA_DB"
"""Environment variable holding the store's URL or SQLite path (``agora ui --db`` sets it)."""

TOKEN_ENV = "AGORA_OPERATOR_TOKEN"
"""Environment variable holding the operator token writes need when the app is not on loopback."""

OPERATORS_ENV = "AGORA_OPERATORS"
"""Environment variable mapping operator names to tokens: ``ann:token1,rob:token2``."""

OPERATORS_FILE_ENV = "AGORA_OPERATORS_FILE"
"""Environment variable naming a file of operators, one ``name token`` per line."""

RUN = "agora.run"  # the run every page shows
AUTHOR = "agora.author"  # who is writing commands (reviewer or operator name)
TOKEN = "agora.token"  # the operator token typed by the user
IDENTITY = "agora.identity"  # who the typed token or name says is writing
REFUSAL = "agora.refusal"  # why writes are refused right now (None: allowed)
TX_PAGE = "agora.tx.page"
TX_PAGE_SIZE = "agora.tx.page_size"
TX_OPEN = "agora.tx.open"  # the transaction whose thread and trace are open
AGENT = "agora.agent"
SPAN = "agora.span"  # the span open in a trace view
TRACE_SCOPE = "agora.trace.scope"
REPLAY_ROUND = "agora.replay.round"
ALERT_OPEN = "agora.alert.open"
ALERT_KINDS = "agora.alert.kinds"  # the Alerts page's filters, group, page and bulk selection
ALERT_SEVERITIES = "agora.alert.severities"
ALERT_STATUSES = "agora.alert.statuses"
ALERT_AGENT = "agora.alert.agent"
ALERT_ROUNDS = "agora.alert.rounds"
ALERT_GROUP = "agora.alert.group"
ALERT_PAGE = "agora.alert.page"
ALERT_CHOSEN = "agora.alert.chosen"
ALERT_EVERY = "agora.alert.every"
REVIEW_DECISION = "agora.review.decision"
REVIEW_AMOUNT = "agora.review.amount"
REVIEW_REASON = "agora.review.reason"
FORK_POLICY = "agora.fork.policy"

QUERY_RUN = "run"  # ?run=<id> opens the app on a run
QUERY_TX = "tx"
QUERY_AGENT = "agent"  # ?agent=<id> opens the Agents page on one agent
QUERY_ROUND = "round"  # ?round=<k> opens the Replay page at round k
QUERY_SPAN = "span"  # ?span=<id> opens one span of the trace shown
