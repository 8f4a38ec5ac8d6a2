"""Concentration: the Herfindahl-Hirschman index of sellers' shares of a service's volume.

Two kinds, both on by default, following the 2023 US merger guidelines: ``concentration``
when a window's HHI is above ``level`` (1,800: highly concentrated in itself, whether or not it
was so before) and ``concentration_rise`` when the HHI rose by more than ``rise`` (100) from
the previous window. Every HHI here is per window (the window's deals only) except
``cumulative_hhi``, which is over every deal since round 1 (as the ``hhi`` round metric).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from itertools import repeat
from operator import mul, truediv

from pydantic import BaseModel, ConfigDict, Field

from protocols.detectors.facts import Alert, MarketFacts, PerRound, RoundFacts, Severity, TradeFact, span, trades


class ConcentrationConfig(BaseModel):
    """HHI thresholds and the sample size they need."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    window: int = Field(10, ge=1, description="Rounds in each of the two windows compared.")
    level: float | None = Field(
        1800.0, ge=0, le=10000, description="Window HHI above which a level alert is raised (None: no level alerts)."
    )
    rise: float | None = Field(
        100.0, ge=0, description="Window-to-window HHI rise above which a change alert is raised (None: none)."
    )
    min_trades: int = Field(20, ge=1, description="Deals of the service needed in each window judged.")


def hhi(volumes: Mapping[str, float]) -> float | None:
    """HHI on the 0-10,000 scale of the given volumes (None without volume)."""
    total = sum(volumes.values())
    if total <= 0:
        return None
    # (100.0 * v / total) ** 2 for each volume, in order, worked out in C (map) rather than a generator: the same sum
    return sum(map(pow, map(truediv, map(mul, repeat(100.0), volumes.values()), repeat(total)), repeat(2)))


def sample_corrected(h: float, n: int) -> float:
    """An HHI measured on ``n`` deals, less the part a sample that small shows by chance.

    Shares estimated from n draws overstate the sum of squared shares by about (1 - HHI)/n
    (the unbiased estimator of a sum of squared proportions): nine equal sellers give an
    expected 1,111, but 20 deals among them measure about 1,556. A monopoly stays at 10,000.
    """
    if n <= 1:
        return h
    return max(0.0, (h - 10000.0 / n) / (1 - 1 / n))


def _by_service(deals: Iterable[TradeFact]) -> tuple[dict[str, int], dict[str, dict[str, float]]]:
    """Per service, its deals' count and each seller's volume (summed in deal order), in one pass."""
    counts: dict[str, int] = {}
    volumes: dict[str, dict[str, float]] = {}
    for t in deals:
        counts[t.service] = counts.get(t.service, 0) + 1
        vol = volumes.get(t.service)
        if vol is None:
            vol = volumes[t.service] = defaultdict(float)
        vol[t.seller] += t.price
    return counts, volumes


def _sellers_and_prices(rf: RoundFacts) -> dict[str, tuple[list[str], list[float]]]:
    """A round's deals by service: their sellers and prices, in deal order."""
    out: dict[str, tuple[list[str], list[float]]] = {}
    for t in rf.trades:
        both = out.get(t.service)
        if both is None:
            both = out[t.service] = ([], [])
        both[0].append(t.seller)
        both[1].append(t.price)
    return out


def _summed(rounds: Iterable[dict[str, tuple[list[str], list[float]]]]) -> ByService:
    """``_by_service`` of the deals of these rounds (``_sellers_and_prices`` of each, in order): the same
    counts, and each seller's volume summed in the same order, so the same sums."""
    counts: dict[str, int] = {}
    volumes: dict[str, dict[str, float]] = {}
    for by in rounds:
        for service, (sellers, prices) in by.items():
            counts[service] = counts.get(service, 0) + len(sellers)
            vol = volumes.get(service)
            if vol is None:
                vol = volumes[service] = {}
            get = vol.get
            for s, p in zip(sellers, prices, strict=True):
                vol[s] = get(s, 0.0) + p
    return counts, volumes


def _shares(vol: Mapping[str, float]) -> dict[str, float]:
    total = sum(vol.values())
    return {s: v / total for s, v in vol.items()} if total > 0 else {}


ByService = tuple[dict[str, int], dict[str, dict[str, float]]]


class ConcentrationWindow:
    """``detect_concentration`` kept across rounds (``Detector.kept``): the deals of a stretch of rounds are
    summed by service and seller once and kept, so a window's sums serve again as the previous window's
    ``window`` rounds later (the rounds before the window are the window of ``window`` rounds ago)."""

    def __init__(self, cfg: ConcentrationConfig) -> None:
        self.cfg = cfg
        self._held: dict[tuple[int, ...], tuple[tuple[RoundFacts, ...], ByService]] = {}  # by ids, with the rounds
        self._deals: PerRound[dict[str, tuple[list[str], list[float]]]] = PerRound()

    def _sums(self, part: Sequence[RoundFacts]) -> ByService:
        key = tuple(map(id, part))  # ids are reused: the rounds kept with the sums are checked too
        found = self._held.get(key)
        if found is None or any(a is not b for a, b in zip(found[0], part, strict=True)):
            found = self._held[key] = (tuple(part), _summed(self._deals.of(part, _sellers_and_prices)))
            while len(self._held) > 2 * self.cfg.window + 2:  # the oldest sums are needed no more
                del self._held[next(iter(self._held))]
        return found[1]

    def detect(self, window: Sequence[RoundFacts], market: MarketFacts) -> list[Alert]:
        """The alerts of ``detect_concentration`` for this window."""
        return _detect(window, self.cfg, self._sums)


def detect_concentration(window: Sequence[RoundFacts], market: MarketFacts, cfg: ConcentrationConfig) -> list[Alert]:
    """Level alerts (window HHI above ``level``) and change alerts (rise above ``rise``) per service.

    Both are judged on the sample-corrected HHI (``sample_corrected``), so a thin window of an
    unconcentrated market does not pass by chance. A level alert names the sellers whose own
    share is at least ``level`` / 10,000 (there is always one when the HHI passes it). A change
    alert names the sellers whose own contribution to the HHI (share squared) rose by more than
    half the ``rise``.
    """
    return _detect(window, cfg, lambda part: _by_service(trades(part)))


def _detect(
    window: Sequence[RoundFacts], cfg: ConcentrationConfig, sums: Callable[[Sequence[RoundFacts]], ByService]
) -> list[Alert]:
    """``detect_concentration``, given the sums (``_by_service``) of a stretch of rounds."""
    now, before = window[-cfg.window :], window[-2 * cfg.window : -cfg.window]
    (counts, volumes), (counts_before, volumes_before) = sums(now), sums(before)
    cumulative = dict(window[-1].cumulative_hhi) if window else {}
    out = []
    for service in sorted(counts):
        n, vol = counts[service], volumes[service]
        level = hhi(vol)
        if level is None or n < cfg.min_trades:
            continue
        shares = _shares(vol)
        n_prev, prev_vol = counts_before.get(service, 0), volumes_before.get(service, {})
        prev_raw = hhi(prev_vol) if n_prev >= cfg.min_trades else None
        prev = None if prev_raw is None else sample_corrected(prev_raw, n_prev)
        raw, level = level, sample_corrected(level, n)
        prev_shares = _shares(prev_vol) if prev is not None else {}
        cum = cumulative.get(service)
        common = {
            "service": service,
            "window_hhi": round(raw, 1),
            "window_hhi_corrected": round(level, 1),
            "previous_window_hhi": None if prev_raw is None else round(prev_raw, 1),
            "previous_window_hhi_corrected": None if prev is None else round(prev, 1),
            "cumulative_hhi": None if cum is None else round(cum, 1),
            "trades": n,
        }
        if cfg.level is not None and level > cfg.level:
            named = sorted(s for s, sh in shares.items() if sh * 10000 >= cfg.level)
            out.append(
                Alert(
                    "concentration",
                    Severity.HIGH if level > 2 * cfg.level else Severity.MEDIUM,
                    tuple(named),
                    {
                        **common,
                        "strength": round(level, 1),
                        "level": cfg.level,
                        "per_agent": {s: {"share": round(shares[s], 3)} for s in named},
                        "top_shares": {s: round(shares[s], 3) for s in sorted(shares, key=lambda x: -shares[x])[:5]},
                    },
                    span(now),
                    f"{service}: window HHI {raw:.0f} ({level:.0f} corrected for {n} deals) > {cfg.level:g}"
                    + (f" (cumulative {cum:.0f})" if cum is not None else ""),
                )
            )
        if cfg.rise is not None and prev is not None and level - prev > cfg.rise:
            gain = {s: 10000 * (shares.get(s, 0.0) ** 2 - prev_shares.get(s, 0.0) ** 2) for s in shares}
            named = sorted(s for s, g in gain.items() if g > cfg.rise / 2)
            out.append(
                Alert(
                    "concentration_rise",
                    Severity.MEDIUM if level > (cfg.level or 0) else Severity.LOW,
                    tuple(named),
                    {
                        **common,
                        "strength": round(level - prev, 1),
                        "rise": round(level - prev, 1),
                        "rise_threshold": cfg.rise,
                        "per_agent": {
                            s: {
                                "share": round(shares.get(s, 0.0), 3),
                                "previous_share": round(prev_shares.get(s, 0.0), 3),
                                "hhi_contribution_gain": round(gain[s], 1),
                            }
                            for s in named
                        },
                    },
                    span(now),
                    f"{service}: window HHI up {level - prev:.0f} (corrected, from {prev:.0f} to {level:.0f}) "
                    f"over {n} deals",
                )
            )
    return out
