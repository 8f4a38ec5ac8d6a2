"""Communication rules: what agents may say, in messages and in every free-text field.

Each rule reads one text and answers allow (None), redact (the recipients get the
redacted text), reject, or flag (allowed, but noted for the detectors and reviewers),
with a reason. ``check_text_fields`` runs them over every free-text field of an action
(``Message.text``, a listing's description, a quote request's note, a rejection's reason).
Rules are pure; scenarios configure them through ``CommsConfig``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache, partial

from pydantic import BaseModel, ConfigDict, Field, field_validator

from protocols.actions import ActionBase, Message, PostService, Reject, RequestQuote
from protocols.state import MarketView, Profile
from protocols.text_rules import (
    COORDINATION_PATTERNS,
    COORDINATION_WORDS,
    INJECTION_PATTERNS,
    REDACTED,
    Effect,
    Finding,
    coordination_rule,
    identity_rule,
    injection_rule,
    leak_rule,
    mentions,
    pattern_rule,
)
from protocols.verdict import Rule, Verdict

__all__ = [
    "COORDINATION_PATTERNS",
    "INJECTION_PATTERNS",
    "REDACTED",
    "CommsConfig",
    "ContentRule",
    "Effect",
    "Finding",
    "apply_redactions",
    "check_text_fields",
    "content_rule",
    "coordination_rule",
    "findings_for",
    "identity_rule",
    "injection_rule",
    "leak_rule",
    "register_classifier",
    "text_fields",
]

Classifier = Callable[[str], "Finding | None"]
CLASSIFIERS: dict[str, Classifier] = {}
"""Classifier functions by name; scenarios name them in ``CommsConfig.classifiers``."""


def register_classifier(name: str, fn: Classifier) -> None:
    """Make a text classifier (text -> Finding or None) available to scenarios by name."""
    CLASSIFIERS[name] = fn


class ContentRule(BaseModel):
    """A scenario's content rule: a regular expression or a word list, and what to do on a match."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(description="Shown in the reason, e.g. 'no contact details'.")
    pattern: str | None = Field(None, description="Regular expression (case-insensitive).")
    words: tuple[str, ...] = Field((), description="Whole words or phrases to match (case-insensitive).")
    effect: Effect = Field(Effect.REJECT, description="redact, reject or flag.")

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, pattern: str | None) -> str | None:
        if pattern is not None:
            try:
                re.compile(pattern)
            except re.error as err:
                raise ValueError(f"pattern {pattern!r} is not a valid regular expression ({err})") from None
        return pattern


class CommsConfig(BaseModel):
    """Settings of the communication rules; every rule can be tuned from the scenario."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_field_chars: int = Field(500, ge=1, description="Longest listing description, note or reason.")
    max_messages_per_round: int = Field(3, ge=0, description="Messages one agent may send per round.")
    content: tuple[ContentRule, ...] = Field((), description="Pattern and word-list rules.")
    classifiers: tuple[str, ...] = Field((), description="Names of registered classifier functions.")
    leak: Effect | None = Field(Effect.REDACT, description="Own value or cost in the text (None: off).")
    leak_tolerance: float = Field(0.5, ge=0, description="A number this close to a private one counts as a leak.")
    injection: Effect | None = Field(Effect.REJECT, description="Text posing as system or tool instructions.")
    identity: Effect | None = Field(Effect.REJECT, description="Text claiming to be or speak for another agent.")
    coordination: Effect | None = Field(Effect.REJECT, description="Price-coordination proposals to competitors.")

    @field_validator("classifiers")
    @classmethod
    def _registered(cls, names: tuple[str, ...]) -> tuple[str, ...]:
        missing = [n for n in names if n not in CLASSIFIERS]
        if missing:
            raise ValueError(f"no classifier named {', '.join(missing)}; register it with register_classifier first")
        return names


@lru_cache(maxsize=256)
def _compiled(rule: ContentRule) -> re.Pattern[str]:
    parts = [rule.pattern] if rule.pattern else []
    parts += [r"\b" + re.escape(w) + r"\b" for w in rule.words]
    return re.compile("|".join(f"(?:{p})" for p in parts) or r"(?!x)x", re.IGNORECASE)


def content_rule(text: str, rule: ContentRule) -> Finding | None:
    """A scenario's pattern or word-list rule."""
    return pattern_rule(
        text, (_compiled(rule),), rule.effect, Rule.CONTENT.value, f"your text breaks the rule '{rule.name}'"
    )


# --- applying them to an action ----------------------------------------------------------
# The free-text field of each action class that has one: the one place to add a new text field
# (``text_fields`` reads it, and ``Protocol.submit`` runs the text check only for these classes).
TEXT_FIELDS: dict[type[ActionBase], str] = {
    Message: "text",
    PostService: "description",
    RequestQuote: "note",
    Reject: "reason",
}


def text_fields(action: ActionBase) -> list[tuple[str, str]]:
    """The free-text fields of an action, as (field name, text)."""
    for cls, name in TEXT_FIELDS.items():
        if isinstance(action, cls):
            return [(name, getattr(action, name))]
    return []


def recipients_compete(view: MarketView, sender: Profile | None, action: ActionBase) -> bool:
    """Whether competitors of the sender may read this text (public text, or a competitor's inbox)."""
    if sender is None:
        return False
    to = None
    if isinstance(action, Message):
        thread = view.thread(action.thread_id) if action.thread_id else None
        to = action.to if thread is None else None  # a thread's other side is a counterparty
        if to is None:
            return False
    elif not isinstance(action, PostService):
        return False  # notes and reasons go to a counterparty only
    if to is None:
        return True  # a listing description is public
    other = view.profile(to)
    return other is not None and other.role == sender.role and bool(other.services & sender.services)


def findings_for(
    text: str,
    cfg: CommsConfig,
    private: tuple[float, ...],
    competitors: bool,
    sender: str = "",
    is_agent: Callable[[str], bool] | None = None,
) -> list[Finding]:
    """Every rule's finding on one text, each rule seeing the text as the previous ones left it.

    Each built-in rule first checks for its key words (or digits) in the text, so ordinary
    text costs a few substring tests rather than every regular expression.
    """
    out: list[Finding] = []
    rules: list[Callable[[str], Finding | None]] = []
    if cfg.injection is not None:
        rules.append(partial(injection_rule, effect=cfg.injection))
    if cfg.identity is not None and is_agent is not None:
        rules.append(partial(identity_rule, sender=sender, is_agent=is_agent, effect=cfg.identity))
    if cfg.coordination is not None and competitors:
        rules.append(partial(coordination_rule, effect=cfg.coordination))
    if cfg.leak is not None and private:
        rules.append(partial(leak_rule, private=private, tolerance=cfg.leak_tolerance, effect=cfg.leak))
    rules += [partial(content_rule, rule=r) for r in cfg.content]
    rules += [CLASSIFIERS[n] for n in cfg.classifiers if n in CLASSIFIERS]
    for rule in rules:
        found = rule(text)
        if found is None:
            continue
        out.append(found)
        if found.effect is Effect.REJECT:
            break
        if found.effect is Effect.REDACT and found.redacted is not None:
            text = found.redacted
    return out


def check_text_fields(action: ActionBase, view: MarketView, who: str, cfg: CommsConfig) -> Verdict | None:
    """Length, rate and content rules over every free-text field of ``action``."""
    fields = text_fields(action)
    if isinstance(action, Message):
        if view.is_halted("messages"):
            return Verdict.reject(Rule.HALTED, "messaging is halted market-wide after a message storm; try later")
        sent = view.activity(who).messages
        if sent >= cfg.max_messages_per_round:
            return Verdict.reject(
                Rule.RATE_LIMIT, f"you may send at most {cfg.max_messages_per_round} messages per round"
            )
    elif any(len(text) > cfg.max_field_chars for _, text in fields):
        name, text = next((n, t) for n, t in fields if len(t) > cfg.max_field_chars)
        return Verdict.reject(Rule.MESSAGE, f"'{name}' has {len(text)} characters; the limit is {cfg.max_field_chars}")
    fields = [(n, t) for n, t in fields if t]
    if not fields:
        return None
    sender = view.profile(who)
    private = sender.private_numbers if sender is not None else ()
    # who reads the text matters only to the coordination rule, and only if the text talks prices
    talks_prices = cfg.coordination is not None and any(mentions(t, COORDINATION_WORDS) for _, t in fields)
    competitors = talks_prices and recipients_compete(view, sender, action)
    redactions: list[tuple[str, str]] = []
    flags: list[str] = []
    reasons: list[str] = []
    for name, text in fields:
        current = text
        for f in findings_for(text, cfg, private, competitors, who, view.is_agent):
            if f.effect is Effect.REJECT:
                return Verdict(False, f.rule, f.reason, (), (f.rule,))
            flags.append(f.rule)
            reasons.append(f"{f.effect.value}ed: {f.reason}" if f.effect is Effect.FLAG else f"redacted: {f.reason}")
            if f.effect is Effect.REDACT and f.redacted is not None:
                current = f.redacted
        if current != text:
            redactions.append((name, current))
    if not flags:
        return None
    return Verdict(True, flags[0], "; ".join(dict.fromkeys(reasons)), tuple(redactions), tuple(dict.fromkeys(flags)))


def apply_redactions(action: ActionBase, verdict: Verdict) -> ActionBase:
    """The action as its recipients get it: redacted fields replaced."""
    if not verdict.redactions:
        return action
    return action.model_copy(update=dict(verdict.redactions))
