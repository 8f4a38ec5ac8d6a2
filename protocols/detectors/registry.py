"""The detector registry: one ``Detector`` entry per detector; its config field and lookback are derived.

An entry names the detector (its key under a scenario's ``safety.detectors``), its config
model, the rounds of facts it reads (``lookback``, from its config) and its function over
the window, and optionally a form kept across rounds that works on the round that entered the
window rather than the whole window (``kept``). ``DetectorsConfig`` accepts one field per registered detector, ``lookback`` is
the most any enabled one needs, and ``run_detectors`` runs them in registration order.

Adding a detector is one module plus one call::

    register_detector(Detector("spike", SpikeConfig, detect_spikes))
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from pydantic import BaseModel

from protocols.detectors.facts import Alert, MarketFacts, RoundFacts

DetectFn = Callable[[Sequence[RoundFacts], MarketFacts, Any], list[Alert]]
"""``(window of round facts, oldest first; market facts; the detector's config) -> alerts``."""

KeptFn = Callable[[Sequence[RoundFacts], MarketFacts], list[Alert]]
"""``(window, market facts) -> alerts``: a detector that carries what it worked out from one window to the next."""


def window_of(cfg: Any) -> int:
    """The default lookback: the config's ``window`` (rounds)."""
    return int(cfg.window)


@dataclass(frozen=True)
class Detector:
    """One registered detector."""

    name: str
    config: type[BaseModel]
    """Its settings; every field needs a default (a scenario may name the detector with no settings)."""
    detect: DetectFn
    lookback: Callable[[Any], int] = window_of
    """Rounds of facts it reads, from its config (default: ``cfg.window``)."""
    on_by_default: bool = True
    """Whether it runs when the scenario does not name it (``name: null`` switches it off)."""
    kept: Callable[[Any], KeptFn] | None = None
    """Optional: from its config, a detector kept across a run's rounds, fed each round the window moved on
    by that round; it must return what ``detect`` returns on the same window (``run_detectors``'s ``kept``)."""


_REGISTRY: dict[str, Detector] = {}
DETECTORS: Mapping[str, Detector] = MappingProxyType(_REGISTRY)
"""Every registered detector by name, in the order they run."""


def register_detector(detector: Detector) -> Detector:
    """Register (or replace) a detector; its name becomes a field of ``DetectorsConfig``."""
    if not detector.name.isidentifier():
        raise ValueError(f"detector name '{detector.name}' must be an identifier (a scenario field)")
    _REGISTRY[detector.name] = detector
    return detector


def unregister_detector(name: str) -> None:
    """Remove a detector (tests that register one clean up with this)."""
    _REGISTRY.pop(name, None)
