"""The rules of the market: pure, deterministic, no I/O.

Actions, the negotiation dialogue, constraints, verdicts, the incentive policy and the
ledger instructions that follow from market events.
"""

from protocols.actions import (
    ACTION_ADAPTER,
    Accept,
    Action,
    ActionBase,
    ActionParseError,
    Counter,
    Deliver,
    MakeOffer,
    Message,
    PostService,
    Reject,
    ReportOutcome,
    RequestQuote,
    Withdraw,
    parse_action,
    tool_schemas,
)
from protocols.constraints import ProtocolConfig
from protocols.dialogue import Deadlines
from protocols.policy import IncentivePolicy
from protocols.protocol import Protocol
from protocols.state import Listing, MarketView, Thread, ThreadState
from protocols.verdict import Rule, Verdict

__all__ = [
    "ACTION_ADAPTER",
    "Accept",
    "Action",
    "ActionBase",
    "ActionParseError",
    "Counter",
    "Deadlines",
    "Deliver",
    "IncentivePolicy",
    "Listing",
    "MakeOffer",
    "MarketView",
    "Message",
    "PostService",
    "Protocol",
    "ProtocolConfig",
    "Reject",
    "ReportOutcome",
    "RequestQuote",
    "Rule",
    "Thread",
    "ThreadState",
    "Verdict",
    "Withdraw",
    "parse_action",
    "tool_schemas",
]
