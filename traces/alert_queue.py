"""Read API for a review queue over many alert cases: filters, groups and pages computed in SQL.

Every function takes the same filters (``CaseFilter``) and never loads evidence except for the
one case asked for (``case_evidence``), so a run with tens of thousands of cases stays quick.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import case, func, or_
from sqlmodel import Session, col, select

from traces.alerts import AlertRow
from traces.store import Store  # noqa: TC001

SEVERITY_RANK = {"high": 0, "medium": 1, "low": 2}
# what a queue row shows (everything but the evidence and the interventions)
QUEUE_COLUMNS = (
    "alert_id",
    "kind",
    "severity",
    "status",
    "auto",
    "agents_json",
    "count",
    "round",
    "last_round",
    "strength",
    "reopened",
    "summary",
    "decision",
    "decided_by",
    "decision_reason",
)


@dataclass(frozen=True)
class CaseFilter:
    """Which cases to show: empty tuples and None mean no restriction."""

    kinds: tuple[str, ...] = ()
    severities: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    agent: str | None = None
    rounds: tuple[int, int] | None = None  # cases with a hit in [first, last] (they overlap the range)
    groups: tuple[tuple[str, str], ...] = field(default=())  # (kind, agents_json) pairs

    def where(self, run_id: str) -> list[Any]:
        """The SQL conditions."""
        conds: list[Any] = [AlertRow.run_id == run_id]
        if self.kinds:
            conds.append(col(AlertRow.kind).in_(self.kinds))
        if self.severities:
            conds.append(col(AlertRow.severity).in_(self.severities))
        if self.statuses:
            conds.append(col(AlertRow.status).in_(self.statuses))
        if self.agent:
            conds.append(col(AlertRow.agents_json).contains(json.dumps(self.agent), autoescape=True))
        if self.rounds is not None:
            conds += [AlertRow.round <= self.rounds[1], AlertRow.last_round >= self.rounds[0]]
        if self.groups:
            conds.append(
                or_(*[(AlertRow.kind == k) & (AlertRow.agents_json == a) for k, a in self.groups])  # type: ignore[arg-type]
            )
        return conds


def _severity_order() -> Any:
    return case(SEVERITY_RANK, value=AlertRow.severity, else_=3)


def facets(store: Store, run_id: str) -> dict[str, Any]:
    """What the filters can choose from: kinds, severities, statuses, agents, the round range, counts."""
    with Session(store.engine) as s:
        by = s.exec(
            select(  # type: ignore[call-overload]  # sqlmodel types select() for up to 4 columns
                AlertRow.kind, AlertRow.severity, AlertRow.status, AlertRow.auto, func.count()
            )
            .where(AlertRow.run_id == run_id)
            .group_by(AlertRow.kind, AlertRow.severity, AlertRow.status, AlertRow.auto)
        ).all()
        lo, hi = s.exec(
            select(func.min(AlertRow.round), func.max(AlertRow.last_round)).where(AlertRow.run_id == run_id)
        ).one()
        agent_sets = s.exec(select(AlertRow.agents_json).where(AlertRow.run_id == run_id).distinct()).all()
    status: dict[str, int] = {}
    for _, _, st, _, n in by:
        status[st] = status.get(st, 0) + n
    return {
        "kinds": sorted({k for k, *_ in by}),
        "severities": sorted({sv for _, sv, *_ in by}, key=lambda x: SEVERITY_RANK.get(x, 3)),
        "statuses": status,
        "auto": sum(n for *_, auto, n in by if auto),
        "total": sum(n for *_, n in by),
        "agents": sorted({a for js in agent_sets for a in json.loads(js)}),
        "rounds": (lo or 0, hi or 0),
    }


def groups(store: Store, run_id: str, flt: CaseFilter) -> list[dict[str, Any]]:
    """Cases grouped by kind and agents: how many, how many open, hits, worst severity, rounds."""
    with Session(store.engine) as s:
        rows = s.exec(
            select(  # type: ignore[call-overload]  # sqlmodel types select() for up to 4 columns
                AlertRow.kind,
                AlertRow.agents_json,
                func.count(),
                func.sum(case((col(AlertRow.status) == "open", 1), else_=0)),
                func.sum(AlertRow.count),
                func.min(_severity_order()),
                func.min(AlertRow.round),
                func.max(AlertRow.last_round),
            )
            .where(*flt.where(run_id))
            .group_by(AlertRow.kind, AlertRow.agents_json)
        ).all()
    sev = {v: k for k, v in SEVERITY_RANK.items()}
    out = [
        {
            "kind": k,
            "agents": ", ".join(json.loads(a)) or "(market)",
            "agents_json": a,
            "cases": n,
            "open": int(op or 0),
            "hits": int(hits or 0),
            "severity": sev.get(rank, "?"),
            "first_round": first,
            "last_round": last,
        }
        for k, a, n, op, hits, rank, first, last in rows
    ]
    return sorted(
        out, key=lambda g: (-g["open"], SEVERITY_RANK.get(g["severity"], 3), -g["hits"], g["kind"], g["agents"])
    )


def page(store: Store, run_id: str, flt: CaseFilter, offset: int = 0, limit: int = 50) -> tuple[list[dict], int]:
    """One page of cases (open first, then most severe, then latest), without evidence; and the total."""
    cols = [getattr(AlertRow, c) for c in QUEUE_COLUMNS]
    order = [
        case((col(AlertRow.status) == "open", 0), else_=1),
        _severity_order(),
        col(AlertRow.last_round).desc(),
        AlertRow.alert_id,
    ]
    with Session(store.engine) as s:
        total = s.exec(select(func.count()).select_from(AlertRow).where(*flt.where(run_id))).one()
        rows = s.exec(select(*cols).where(*flt.where(run_id)).order_by(*order).offset(offset).limit(limit)).all()
    return [dict(zip(QUEUE_COLUMNS, r, strict=True)) for r in rows], int(total)


def case_ids(store: Store, run_id: str, flt: CaseFilter, limit: int = 10_000) -> list[str]:
    """Ids of every case the filters select (for a bulk decision over them), at most ``limit``."""
    with Session(store.engine) as s:
        return list(s.exec(select(AlertRow.alert_id).where(*flt.where(run_id)).limit(limit)).all())


def case_evidence(store: Store, run_id: str, alert_id: str) -> AlertRow | None:
    """One case with its evidence and interventions."""
    with Session(store.engine) as s:
        return s.get(AlertRow, (run_id, alert_id))


def evidence_links(evidence: dict[str, Any], run_id: str, agents: Sequence[str]) -> list[tuple[str, str]]:
    """(label, relative URL) for the records and agents a case points to: deals, actions' rounds, agents."""
    out: list[tuple[str, str]] = []
    seen: set[str] = set()
    refs = [r for v in evidence.values() if isinstance(v, list) for r in v if isinstance(r, str) and ":" in r]
    for ref in refs:
        if ref in seen:
            continue
        seen.add(ref)
        kind, _, rest = ref.partition(":")
        if kind == "tx" and rest.isdigit():
            out.append((ref, f"transactions?run={run_id}&tx={rest}"))
        elif kind == "action" and rest.split("/")[0].isdigit():
            out.append((ref, f"replay?run={run_id}&round={rest.split('/')[0]}"))
    out += [(a, f"agents?run={run_id}&agent={a}") for a in agents]
    return out
