"""Alert cases: one open case per finding (kind, agents, service), updated as it comes back.

A detector that finds the same thing again adds a hit to the case (count, last round, the
records and a history of its strength and severity) instead of opening a new alert. A
dismissed case stays quiet (its count still grows, no notice, no review) until a hit is
stronger than the case's peak at dismissal by ``reopen_margin``, or more severe; then it is
open again. A case a person confirmed that comes back is open again for a new decision;
a case the policy handles automatically stays confirmed and takes the next step.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from protocols.detectors import Alert, Severity

RECORDS_KEPT = 100  # record ids a case keeps (the newest), so a long case's row stays small
HISTORY_KEPT = 50  # hits a case keeps in its history
_ORDER = {Severity.LOW: 0, Severity.MEDIUM: 1, Severity.HIGH: 2}


@dataclass
class Case:
    """An alert case of this run and where its review stands (``alert`` is the latest hit)."""

    id: str
    round: int
    alert: Alert
    status: str  # open, confirmed, dismissed
    auto: bool
    decision: str | None = None
    decided_by: str | None = None
    decision_reason: str | None = None
    decided_round: int | None = None
    count: int = 1
    last_round: int = 0
    severity: Severity = Severity.LOW
    peak: float = 0.0
    dismissed_peak: float | None = None
    dismissed_severity: Severity | None = None
    window_start: int = 0
    records: list[str] = field(default_factory=list)
    history: list[dict[str, Any]] = field(default_factory=list)
    applied: list[dict[str, Any]] | None = None
    reopened: int = 0
    agents: tuple[str, ...] = ()  # every agent its hits named (one set, except for per-service cases)

    @classmethod
    def open(cls, case_id: str, round_: int, alert: Alert, auto: bool) -> Case:
        """A new case from its first hit."""
        case = cls(
            case_id,
            round_,
            alert,
            "confirmed" if auto else "open",
            auto,
            "confirm" if auto else None,
            "policy" if auto else None,
            "automatic by policy" if auto else None,
            round_ if auto else None,
            count=0,
            severity=alert.severity,
            window_start=alert.window[0],
        )
        case.hit(round_, alert)
        return case

    def hit(self, round_: int, alert: Alert) -> None:
        """Add a detection to the case: count, last round, severity, peak, records, history."""
        self.alert = alert
        self.agents = tuple(sorted({*self.agents, *alert.agents}))
        self.count += 1
        self.last_round = round_
        if _ORDER[alert.severity] > _ORDER[self.severity]:
            self.severity = alert.severity
        self.peak = max(self.peak, alert.strength)
        new = [r for v in alert.evidence.values() if isinstance(v, list) for r in v if isinstance(r, str) and ":" in r]
        have = set(self.records)
        self.records = (self.records + [r for r in new if r not in have])[-RECORDS_KEPT:]
        self.history = [
            *self.history,
            {
                "round": round_,
                "severity": alert.severity.value,
                "strength": alert.strength,
                "window": alert.window,
                "agents": list(alert.agents),
            },
        ][-HISTORY_KEPT:]

    def outgrew_dismissal(self, alert: Alert, margin: float) -> bool:
        """Whether a new hit on a dismissed case is enough to reopen it."""
        peak = self.dismissed_peak or 0.0
        worse = self.dismissed_severity is not None and _ORDER[alert.severity] > _ORDER[self.dismissed_severity]
        return worse or alert.strength > peak * (1 + margin)

    def dismiss(self) -> None:
        """Remember what the case looked like when dismissed (what a reopening must outgrow)."""
        self.dismissed_peak = self.peak
        self.dismissed_severity = self.severity

    def row(self, run_id: str) -> dict[str, Any]:
        """The case's ``alerts`` row (written again, as an upsert, whenever the case changes)."""
        a = self.alert
        evidence = {**a.evidence, "records": self.records, "history": self.history}
        return {
            "run_id": run_id,
            "alert_id": self.id,
            "round": self.round,
            "last_round": self.last_round,
            "count": self.count,
            "kind": a.kind,
            "severity": self.severity.value,
            "agents_json": json.dumps(list(self.agents)),
            "evidence_json": json.dumps(evidence, sort_keys=True, default=str),
            "strength": self.peak,
            "window_start": self.window_start,
            "window_end": a.window[1],
            "summary": a.summary,
            "status": self.status,
            "auto": self.auto,
            "decision": self.decision,
            "decided_by": self.decided_by,
            "decision_reason": self.decision_reason,
            "decided_round": self.decided_round,
            "reopened": self.reopened,
            "interventions_json": json.dumps(self.applied) if self.applied is not None else None,
        }
