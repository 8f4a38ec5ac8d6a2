"""Fork: replay to round K from the parent's record, then another policy; compared side by side."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from sandbox import Session, fork, load_scenario
from sandbox.replay import ReplayError, replay
from sandbox.replay.compare import compare_figure, compare_runs, first_different_round, save_figure
from traces import Store, read


@pytest.fixture()
def parent(tmp_path) -> tuple[Store, str]:
    store = Store(str(tmp_path / "fork.db"))
    run_id = Session(load_scenario("services"), rounds=14, store=store).run().run_id
    return store, run_id


def _hashes(store: Store, run_id: str) -> dict[int, tuple[str, str]]:
    with store.engine.connect() as conn:
        rows = conn.execute(
            text("select round, ledger_hash, actions_hash from rounds where run_id=:r"), {"r": run_id}
        ).all()
    return {r: (lh, ah) for r, lh, ah in rows}


def test_fork_with_changed_fee_diverges_after_k_and_not_before(parent, tmp_path) -> None:
    store, pid = parent
    out = fork(pid, 6, {"fee_rate": 0.25}, store=store)
    a, b = _hashes(store, pid), _hashes(store, out.run_id)
    assert sorted(b) == list(range(1, 15))
    assert all(a[r] == b[r] for r in range(1, 7)), "rounds up to the fork must be the parent's"
    assert any(a[r][0] != b[r][0] for r in range(7, 15)), "a higher fee must change the books after the fork"

    row = read.run(store, out.run_id)
    assert row is not None and row.parent_run_id == pid and row.fork_round == 6 and row.status == "finished"
    with store.engine.connect() as conn:
        last = conn.execute(
            text(
                "select round, author, policy_json from policy_versions where run_id=:r order by version desc limit 1"
            ),
            {"r": out.run_id},
        ).one()
    assert last.round == 7 and last.author == "fork" and json.loads(last.policy_json)["fee_rate"] == 0.25

    assert replay(out.run_id, store).identical, "a fork is itself a run that replays"

    df = compare_runs(store, [pid, out.run_id], ("fees", "volume", "transactions"))
    assert list(df.columns.get_level_values(0).unique()) == ["fees", "volume", "transactions"]
    first = first_different_round(df)
    assert first is not None and first > 6
    html = save_figure(compare_figure(df, "fee fork", fork_round=6), tmp_path / "fork.html")
    assert pid in html.read_text() and out.run_id in html.read_text()


def test_fork_without_a_new_policy_is_the_parent_again(parent) -> None:
    store, pid = parent
    out = fork(pid, 5, store=store)
    assert _hashes(store, pid) == _hashes(store, out.run_id)


def test_fork_of_a_run_with_live_changes_keeps_the_timeline_up_to_k(tmp_path) -> None:
    store = Store(str(tmp_path / "live.db"))
    s = Session(load_scenario("services"), rounds=12, store=store)
    s.run(rounds=3)
    s.set_policy(s.policy.with_changes({"fee_rate": 0.15}), author="researcher", reason="mid-run change")
    s.run()
    out = fork(s.run_id, 8, store=store)  # the change of round 4 is inside the replayed part
    assert _hashes(store, s.run_id) == _hashes(store, out.run_id)
    assert replay(out.run_id, store).identical


def test_fork_round_outside_the_run_is_refused(parent) -> None:
    store, pid = parent
    with pytest.raises(ReplayError, match="outside run"):
        fork(pid, 99, store=store)
    with pytest.raises(ReplayError, match="not valid"):
        fork(pid, 3, {"reputation": {"weight": -1}}, store=store)
    assert [r.id for r in read.runs(store)] == [pid]


def test_nested_policy_changes_merge_field_by_field(parent) -> None:
    store, pid = parent
    out = fork(pid, 3, {"reputation": {"weight": 0.9}}, store=store)
    with store.engine.connect() as conn:
        last = conn.execute(
            text("select policy_json from policy_versions where run_id=:r order by version desc limit 1"),
            {"r": out.run_id},
        ).scalar_one()
    rep = json.loads(last)["reputation"]
    assert rep["weight"] == 0.9 and "alpha" in rep and "prior" in rep


def test_fork_from_the_command_line_with_a_policy_file(parent, tmp_path) -> None:
    from sandbox.cli import app

    store, pid = parent
    policy = tmp_path / "policy.yaml"
    policy.write_text("fee_rate: 0.3\n")
    html = tmp_path / "cmp.html"
    res = CliRunner().invoke(
        app, ["fork", pid, "--round", "4", "--policy", str(policy), "--db", store.url, "--html", str(html)]
    )
    assert res.exit_code == 0, res.output
    assert "first differ in round" in res.output and html.exists()
    forks = [r for r in read.runs(store) if r.parent_run_id == pid]
    assert len(forks) == 1 and forks[0].fork_round == 4

    bad = tmp_path / "bad.yaml"
    bad.write_text("fee_rate: 7\n")
    res = CliRunner().invoke(app, ["fork", pid, "--round", "4", "--policy", str(bad), "--db", store.url])
    assert res.exit_code == 2 and "fee_rate" in res.output
    assert len([r for r in read.runs(store) if r.parent_run_id or "fork" in r.id]) == 1, "a refused fork writes nothing"


def test_compare_from_the_command_line(parent, tmp_path) -> None:
    from sandbox.cli import app

    store, pid = parent
    out = fork(pid, 7, {"fee_rate": 0.5}, store=store)
    html = tmp_path / "c.html"
    res = CliRunner().invoke(
        app, ["compare", pid, out.run_id, "--metrics", "fees,volume", "--db", store.url, "--html", str(html)]
    )
    assert res.exit_code == 0, res.output
    assert "fees" in res.output and "per-round metrics first differ in round" in res.output and html.exists()
    first = int(res.output.rsplit("first differ in round", 1)[1].split()[0])
    assert first > 7
