"""Marketic primitives backed by the LLM agent on the offline stand-in model."""

from __future__ import annotations

import pytest

from sandbox.marketic import MarketicConfig, Society, replay, run_marketic
from traces.store import Store


@pytest.fixture(scope="module")
def truthful_pair() -> tuple[Society, Society]:
    """The same lure society, bidding directly and through LLM agents on the truthful stand-in."""
    direct = Society(MarketicConfig(task="lure", rule="ccv", episodes=6))
    llm = Society(MarketicConfig(task="lure", rule="ccv", episodes=6, bidder="scripted/marketic_truthful"))
    for soc in (direct, llm):
        for _ in range(6):
            soc.play_episode()
    assert llm.llm is not None
    llm.llm.close()
    return direct, llm


def test_truthful_stand_in_reproduces_direct_bidding(truthful_pair: tuple[Society, Society]) -> None:
    direct, llm = truthful_pair
    # every bid went through an LLMAgent turn (prompt, stand-in tool call, check) and came back as a
    # sealed_bid equal to the value: the two societies' books are the same to the micro-unit
    assert llm.llm is not None and llm.llm.outcomes["bid"] > 0 and llm.llm.outcomes["no bid"] == 0
    assert llm.ledger.digest() == direct.ledger.digest()
    assert {p.pid: p.bids for p in llm.primitives} == {p.pid: p.bids for p in direct.primitives}


def test_shading_stand_in_bids_eighty_percent_and_shrinks_credit() -> None:
    shading = Society(
        MarketicConfig(
            task="lure", rule="bucket_brigade", episodes=4, sigma=0.0, sigma_min=0.0, bidder="scripted/marketic_shading"
        )
    )
    for p in shading.primitives:  # the copies share one table: invest is worth 1.0 everywhere, cash 0.5
        p.bids.update({s: (1.0 if p.action == "invest" else 0.5) for s in range(4)})
    log, _ = shading.play_episode()
    assert shading.llm is not None
    shading.llm.close()
    first = log.steps[0]
    assert sorted(b.amount for b in first.result.ranking) == [400_000, 400_000, 800_000, 800_000]  # 80 % of each value
    assert [s.action for s in log.steps] == ["invest"] * 4 and first.price == 800_000
    # the bucket brigade credits the next (shaded) bid: 1.0 moves towards 0.9 x 0.8, not towards 0.9
    assert shading.by_id[first.winner].bids[0] == pytest.approx(1.0 + 0.2 * (0.9 * 0.8 - 1.0))


def test_llm_bidder_run_is_recorded_and_replays(tmp_path) -> None:
    store = Store(str(tmp_path / "llm.db"))
    result = run_marketic(
        MarketicConfig(task="lure", rule="vickrey", episodes=3, bidder="scripted/marketic_truthful"), store
    )
    assert replay(store, result.run_id) == []
