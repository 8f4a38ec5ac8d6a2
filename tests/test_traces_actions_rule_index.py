"""New stores no longer make ix_actions_run_rule (no read names a rule without an agent); a store made
before, which keeps it, is written and read as before, row for row the same as a new store."""

from __future__ import annotations

import sqlite3

from sandbox import Session
from sandbox.scenario import load_scenario
from traces import Store, audit, read
from traces.agent_stats import agent_overview


def _indexes(db: str) -> set[str]:
    with sqlite3.connect(db) as raw:
        return {n for (_, n, *_) in raw.execute("PRAGMA index_list(actions)")}


def test_a_new_store_has_no_rule_index_and_an_old_store_with_it_reads_the_same(tmp_path) -> None:
    new, old = str(tmp_path / "new.db"), str(tmp_path / "old.db")
    Store(old).engine.dispose()
    with sqlite3.connect(old) as raw:  # as stores made before it went: the index is there
        raw.execute("CREATE INDEX ix_actions_run_rule ON actions (run_id, accepted, rule)")
    runs = {
        db: Session(load_scenario("double_auction"), store=db, tracing=False, rounds=6).run().run_id
        for db in (new, old)
    }
    assert "ix_actions_run_rule" not in _indexes(new) and "ix_actions_run_rule" in _indexes(old)
    assert "ix_actions_run_accepted_agent" in _indexes(new)
    seen = []
    for db, run_id in runs.items():
        store = Store(db)
        everything = read.actions(store, run_id)
        agent = everything[0].agent_id
        seen.append(
            (
                [(a.round, a.seq, a.agent_id, a.payload, a.accepted, a.rule, a.reason) for a in everything],
                [(a.round, a.seq) for a in read.actions(store, run_id, accepted=False)],
                [(a.round, a.seq) for a in read.actions(store, run_id, agent=agent)],
                audit.violations(store, run_id, agent),
                {k: v["violations"] for k, v in agent_overview(store, run_id).items()},
            )
        )
        store.dispose()
    assert seen[0] == seen[1] and seen[0][0]
    assert any(not accepted for *_, accepted, _, _ in seen[0][0])  # rejections were read back
