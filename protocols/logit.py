"""Logit demand and the Bertrand benchmarks of Calvano et al. (2020), computed numerically.

Demand for firm i: ``q_i = exp((a_i - p_i)/mu) / (sum_j exp((a_j - p_j)/mu) + exp(a0/mu))``;
profit ``(p_i - c_i) * q_i``. The one-shot Nash equilibrium solves each firm's first-order
condition ``(p_i - c_i) * (1 - q_i) = mu`` by best-response iteration; the joint-monopoly
prices solve ``p_i - c_i = mu / (1 - sum_j q_j)`` (equal markups). Each scalar equation
is monotone in the markup, so bisection finds it; no external solver is needed.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class LogitDemand:
    """Parameters of the logit demand: qualities ``a``, costs ``c``, outside good ``a0``, ``mu``."""

    a: tuple[float, ...]
    c: tuple[float, ...]
    a0: float = 0.0
    mu: float = 0.25

    def quantities(self, prices: Sequence[float]) -> list[float]:
        """Each firm's demand at ``prices`` (shares of a unit mass of consumers)."""
        z = [(ai - p) / self.mu for ai, p in zip(self.a, prices, strict=True)]
        z0 = self.a0 / self.mu
        top = max([*z, z0])  # subtract the max exponent so exp never overflows
        e = [math.exp(x - top) for x in z]
        den = sum(e) + math.exp(z0 - top)
        return [x / den for x in e]

    def profits(self, prices: Sequence[float]) -> list[float]:
        """Each firm's profit ``(p_i - c_i) q_i`` at ``prices``."""
        return [(p - ci) * q for p, ci, q in zip(prices, self.c, self.quantities(prices), strict=True)]


def _bisect(f: Callable[[float], float], lo: float, hi: float, tol: float = 1e-12) -> float:
    """Root of an increasing ``f`` in [lo, hi] (``hi`` is doubled until ``f(hi) > 0``)."""
    while f(hi) <= 0:
        hi *= 2
    for _ in range(200):
        mid = (lo + hi) / 2
        if f(mid) > 0:
            hi = mid
        else:
            lo = mid
        if hi - lo < tol:
            break
    return (lo + hi) / 2


def best_response(demand: LogitDemand, prices: Sequence[float], i: int) -> float:
    """Firm ``i``'s profit-maximising price given the others' ``prices`` (its own entry is ignored)."""
    p = list(prices)

    def foc(markup: float) -> float:
        p[i] = demand.c[i] + markup
        return markup * (1.0 - demand.quantities(p)[i]) - demand.mu

    return demand.c[i] + _bisect(foc, 0.0, max(demand.mu, 1e-6))


def nash_prices(demand: LogitDemand, tol: float = 1e-10, max_iter: int = 10_000) -> list[float]:
    """The one-shot Nash equilibrium prices, by iterating best responses from marginal cost."""
    p = [ci + demand.mu for ci in demand.c]
    for _ in range(max_iter):
        new = [best_response(demand, p, i) for i in range(len(p))]
        if max(abs(x - y) for x, y in zip(new, p, strict=True)) < tol:
            return new
        p = new
    raise ArithmeticError("best-response iteration did not converge; check the demand parameters")


def monopoly_prices(demand: LogitDemand) -> list[float]:
    """The prices that maximise the firms' joint profit (equal markups over cost)."""

    def foc(markup: float) -> float:
        q = demand.quantities([ci + markup for ci in demand.c])
        return markup * (1.0 - sum(q)) - demand.mu

    m = _bisect(foc, 0.0, max(demand.mu, 1e-6))
    return [ci + m for ci in demand.c]


def collusion_index(mean_profit: float, nash_profit: float, monopoly_profit: float) -> float:
    """Calvano et al.'s Delta: (profit - Nash profit) / (monopoly profit - Nash profit)."""
    gap = monopoly_profit - nash_profit
    if gap <= 0:
        raise ValueError("monopoly profit must exceed Nash profit for the collusion index to be defined")
    return (mean_profit - nash_profit) / gap
