"""The incentive terms an agent reads from its observation, and what they do to its payoff.

Every incentive-aware agent (scripted baselines and the stand-in model's strategies) prices
through these functions, so they all answer the same policy the same way. The policy in
force reaches an agent every round in ``Observation.incentives`` (the session dumps the
current ``IncentivePolicy`` there), so a live change moves the next round's prices.

A missing field counts as neutral (no fee, no tax, no fine): an observation without a policy
leaves the agents as they were before incentives existed. The arithmetic mirrors
``protocols.settlement.settle``: the seller receives ``payout - fee - tax`` from escrow plus
the minted subsidy and ``outcome_reward x outcome``; under outcome payment the payout is the
outcome share of the price and the buyer is refunded the rest.
"""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from protocols.settlement import quadratic_score


def _num(data: Mapping[str, Any], key: str) -> float:
    try:
        value = float(data.get(key) or 0.0)
    except (TypeError, ValueError):
        return 0.0
    return value if math.isfinite(value) and value > 0 else 0.0


def _section(data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    """``data[key]`` when it is a mapping, else an empty one."""
    value = data.get(key)
    return value if isinstance(value, Mapping) else {}


@dataclass(frozen=True)
class Terms:
    """The policy in force, as plain numbers (zero where the observation says nothing)."""

    fee_rate: float = 0.0
    fee_fixed: float = 0.0
    tax_rate: float = 0.0
    subsidy: float = 0.0
    outcome_reward: float = 0.0
    fines: dict[str, float] = field(default_factory=dict)
    rep_prior: float = 0.5
    rep_alpha: float = 0.0
    rep_weight: float = 0.0
    outcome_payment: bool = False
    base_share: float = 1.0
    claim_weight: float = 0.0
    report_bonus: float = 0.0

    @classmethod
    def of(cls, incentives: Mapping[str, Any] | str | None) -> Terms:
        """Terms from an observation's ``incentives`` (a policy dump, or its JSON text); tolerant of gaps."""
        if isinstance(incentives, str):
            try:
                incentives = json.loads(incentives)
            except ValueError:
                incentives = None
        data: Mapping[str, Any] = incentives if isinstance(incentives, Mapping) else {}
        rep = _section(data, "reputation")
        op = _section(data, "outcome_payment")
        fines = _section(data, "fines")
        enabled = bool(op.get("enabled", False))
        return cls(
            fee_rate=min(_num(data, "fee_rate"), 1.0),
            fee_fixed=_num(data, "fee_fixed"),
            tax_rate=min(_num(data, "tax_rate"), 1.0),
            subsidy=_num(data, "subsidy"),
            outcome_reward=_num(data, "outcome_reward"),
            fines={str(k): _num(fines, k) for k in fines},
            rep_prior=min(float(rep.get("prior", 0.5) or 0.0), 1.0),
            rep_alpha=min(_num(rep, "alpha"), 1.0),
            rep_weight=_num(rep, "weight"),
            outcome_payment=enabled,
            base_share=min(float(op.get("base_share", 0.5)), 1.0) if enabled else 1.0,
            claim_weight=min(_num(op, "claim_weight"), 1.0),
            report_bonus=_num(op, "report_bonus"),
        )

    # --- sellers -------------------------------------------------------------------------
    def expected_share(self, quality: float = 1.0, claim: float | None = None) -> float:
        """Expected share of the price a seller is paid when its outcome is 1 with probability ``quality``.

        1 without outcome payment. With it: ``base + (1 - base) * E[S]`` where the outcome term
        is ``quality`` and the claim term is the expected quadratic score of ``claim`` (default:
        the truthful claim, ``claim = quality``).
        """
        if not self.outcome_payment:
            return 1.0
        q = min(max(quality, 0.0), 1.0)
        c = q if claim is None else min(max(claim, 0.0), 1.0)
        claim_term = q * quadratic_score(c, 1.0) + (1 - q) * quadratic_score(c, 0.0)
        s = (1 - self.claim_weight) * q + self.claim_weight * claim_term
        return self.base_share + (1 - self.base_share) * s

    @cached_property
    def _share(self) -> float:
        """``expected_share()`` (quality 1, the truthful claim), which every trader asks each turn: made once."""
        return self.expected_share()

    @cached_property
    def neutral(self) -> bool:
        """No fee, tax, subsidy or outcome reward, and an expected share of 1 at quality 1: ``seller_floor(cost)``
        is ``cost`` (0.0 for a cost at or below 0) and ``buyer_ceiling(value)`` is ``value + 0.0``, exactly as
        their arithmetic gives them (for quality 1, no claim, unverified reports)."""
        return self.fee_rate == self.fee_fixed == self.tax_rate == self.subsidy == self.outcome_reward == 0.0 and (
            self._share == 1.0
        )

    def seller_keeps(self, price: float, quality: float = 1.0, claim: float | None = None) -> float:
        """What a seller expects to receive for one unit sold at ``price``: net of fee and tax, plus mints."""
        payout = price * (self._share if quality == 1.0 and claim is None else self.expected_share(quality, claim))
        fee = min(payout * self.fee_rate + self.fee_fixed, payout)
        tax = min(payout * self.tax_rate, payout - fee)
        return payout - fee - tax + self.subsidy + self.outcome_reward * quality

    def seller_floor(self, cost: float, quality: float = 1.0, claim: float | None = None) -> float:
        """The least price at which selling one unit of cost ``cost`` does not lose money (``inf``: none).

        ``(cost + fee_fixed - subsidy - outcome_reward * quality) / (share * (1 - fee_rate - tax_rate))``;
        with no fees and no mints this is ``cost``; with a fee rate f alone it is ``cost / (1 - f)``.
        """
        mints = self.subsidy + self.outcome_reward * quality
        share = self._share if quality == 1.0 and claim is None else self.expected_share(quality, claim)
        net_rate = share * (1.0 - self.fee_rate - self.tax_rate)
        need = cost + self.fee_fixed - mints
        if need <= 0:
            return 0.0
        if net_rate <= 1e-9:
            return math.inf
        return need / net_rate

    # --- buyers --------------------------------------------------------------------------
    def buyer_ceiling(self, value: float, quality: float = 1.0, verified: bool = False) -> float:
        """The most a buyer pays for a unit it values at ``value``.

        Under outcome payment it pays only the seller's share (the rest is refunded), so it can
        offer ``value / share``; with verified reports (the intermediary's ``outcome: reported``)
        it expects the full report bonus for a truthful report. Subsidies and rewards go to the
        seller in Agora's rules: they reach buyers through lower asks, not through this ceiling.
        """
        bonus = self.report_bonus if verified else 0.0
        return (value + bonus) / max(self._share if quality == 1.0 else self.expected_share(quality), 1e-9)

    # --- rule breakers -------------------------------------------------------------------
    def expected_fine(self, rule: str, balance: float) -> float:
        """The fine a rejection by ``rule`` would take: the policy's amount, never more than the balance."""
        return min(self.fines.get(rule, 0.0), max(balance, 0.0))


_last: list[Any] = [None, Terms()]  # a private copy of the last incentives parsed, and their terms


def terms_of(obs: Any) -> Terms:
    """The terms in an observation (anything with an ``incentives`` mapping).

    Every agent asks every turn, each with its own copy of the same policy; the last parse is
    kept and reused while equal incentives come back (``Terms.of`` depends only on their
    contents; the key kept here is a deep copy, so no agent can change it).
    """
    incentives = getattr(obs, "incentives", None)
    if incentives is None or type(incentives) is not type(_last[0]) or incentives != _last[0]:
        terms = Terms.of(incentives)
        try:
            _last[:] = [copy.deepcopy(incentives), terms]
        except Exception:  # noqa: BLE001  (something that cannot be copied is not kept)
            _last[:] = [None, terms]
        return terms
    return _last[1]


def policy_from_messages(messages: list[dict[str, Any]]) -> dict[str, Any]:
    """The latest policy JSON (an object with a numeric ``fee_rate``) in any chat message, or {} if none.

    For the stand-in model, whatever the prompt's layout: the policy may sit in the system
    prompt, the observation JSON or elsewhere. A policy-change notice (``{"fee_rate": [old, new]}``) is not a policy and is skipped.
    """
    decoder = json.JSONDecoder()
    for m in reversed(messages):
        text = m.get("content")
        if not isinstance(text, str) or '"fee_rate"' not in text:
            continue
        key = len(text)
        while (key := text.rfind('"fee_rate"', 0, key)) >= 0:
            found = _object_around(decoder, text, key)
            if found is not None:
                return found
    return {}


def _object_around(decoder: json.JSONDecoder, text: str, key: int) -> dict[str, Any] | None:
    """The policy object whose ``fee_rate`` key starts at ``key``, if the text holds one there."""
    at = key
    for _ in range(8):  # the enclosing object starts at one of the nearest braces before the key
        at = text.rfind("{", 0, at)
        if at < 0:
            return None
        try:
            found, end = decoder.raw_decode(text, at)
        except ValueError:
            continue
        if end > key and isinstance(found, dict) and isinstance(found.get("fee_rate"), (int, float)):
            return found
    return None
