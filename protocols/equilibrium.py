"""The competitive benchmark of a market whose unit values and unit costs are known."""

from __future__ import annotations


def competitive_band(values: list[float], costs: list[float]) -> tuple[float, float] | None:
    """The competitive-equilibrium price range of unit values against unit costs (None without trade).

    Demand sorted high to low meets supply sorted low to high; q units trade where the q-th
    value is at least the q-th cost, and any price between the marginal units clears the market.
    """
    vs, cs = sorted(values, reverse=True), sorted(costs)
    q = 0
    while q < min(len(vs), len(cs)) and vs[q] >= cs[q]:
        q += 1
    if q == 0:
        return None
    low = max(cs[q - 1], vs[q] if q < len(vs) else cs[q - 1])
    high = min(vs[q - 1], cs[q] if q < len(cs) else vs[q - 1])
    return (low, high)  # low <= high: the q-th trade clears and the (q+1)-th does not


def competitive_price(values: list[float], costs: list[float]) -> float | None:
    """Midpoint of the competitive-equilibrium price range (None without trade)."""
    band = competitive_band(values, costs)
    return None if band is None else (band[0] + band[1]) / 2
