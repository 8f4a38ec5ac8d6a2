"""Primitives whose bids an LLM agent decides: the same auction driving language-model agents.

With ``MarketicConfig(bidder="scripted/marketic_truthful")`` (or any litellm model string)
every primitive is backed by an ``agents.llm.LLMAgent``. Each step the society still
learns each primitive's value of the state and adds its exploration noise; the agent is
then shown a one-listing sealed-bid market (the state on sale, its value for it as a buyer,
its balance) and answers with a ``sealed_bid`` tool call. Its bid is checked (the right
listing, at least 0, at most its wealth); a rejected bid goes back to the agent to repair,
and an agent that ends its turn without a valid bid bids 0. The offline stand-in plays
``agents.marketic_bidder``: ``marketic_truthful`` bids the value, ``marketic_shading`` 80 %.
With the stand-in a run is deterministic and replays; with a real model it does not.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

from agents.marketic_bidder import STATE_BIDDERS
from agents.observation import ListingInfo, MarketInfo, Observation, Private
from protocols.actions import ActionBase, SealedBid
from protocols.auctions import SealedBid as Bid
from protocols.money import to_micros, to_units
from protocols.verdict import Verdict
from sandbox.marketic.society import Primitive

RULE = "marketic_bid"


def register_stand_in_bidders() -> None:
    """Teach the offline stand-in model the marketic bidders (``scripted/marketic_truthful`` ...)."""
    from agents.llm.scripted_model import STRATEGIES  # imports litellm: only when LLM bidders are used

    for cls in STATE_BIDDERS:
        STRATEGIES.setdefault(cls.kind, cls)


async def _together(turns: list[Any]) -> list[Any]:
    return list(await asyncio.gather(*turns))


class LLMBidding:
    """A bidding function for ``Society``: one LLM agent per primitive decides each sealed bid."""

    def __init__(self, primitives: list[Primitive], model: str, seed: int, label: Any = str) -> None:
        from agents.llm.agent import LLMAgent

        if model.startswith("scripted/"):
            register_stand_in_bidders()
        self.model = model
        self.seed = seed
        self.label = label
        self.agents = {
            p.pid: LLMAgent(p.pid, "buyer", model=model, persona="neutral", max_repairs=1) for p in primitives
        }
        self.episode = 0
        self.calls = 0
        self.outcomes: Counter[str] = Counter()  # "bid", "no bid", "turn ended: <reason>"
        self._loop = asyncio.new_event_loop()

    def close(self) -> None:
        """Cancel what litellm left running on the agents' event loop, then close it."""
        pending = asyncio.all_tasks(self._loop)
        for task in pending:
            task.cancel()
        if pending:
            self._loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        self._loop.close()

    def begin_episode(self, episode: int) -> None:
        """Number the turns of a new episode (each agent's seed depends on episode and step)."""
        self.episode, self.calls = episode, 0

    def __call__(
        self, primitives: list[Primitive], state: int, wealth: dict[str, int], sigma: float, init: float = 0.0
    ) -> list[Bid]:
        """Every primitive's sealed bid for ``state``, as decided by its agent (in micro-units)."""
        self.calls += 1
        listing = f"state-{self.label(state)}"
        turns = []
        for p in primitives:
            value = p.value(state, init) + (p.rng.gauss(0.0, sigma) if sigma > 0 else 0.0)
            agent = self.agents[p.pid]
            agent.rng.seed(f"{self.seed}/llm/{p.pid}/{self.episode}/{self.calls}")
            obs = self._observation(p.pid, listing, max(value, 0.0), wealth.get(p.pid, 0))
            turns.append(agent.adecide(obs, self._check(listing, wealth.get(p.pid, 0))))
        answers = self._loop.run_until_complete(_together(turns))
        bids = []
        for p, actions in zip(primitives, answers, strict=True):
            price = next((a.price for a in actions if isinstance(a, SealedBid) and a.listing_id == listing), None)
            self.outcomes["bid" if price is not None else "no bid"] += 1
            micros = 0 if price is None else min(max(to_micros(price), 0), max(wealth.get(p.pid, 0), 0))
            bids.append(Bid(p.pid, micros))
        return bids

    def _observation(self, pid: str, listing: str, value: float, wealth: int) -> Observation:
        cash = to_units(wealth)
        return Observation(
            agent_id=pid,
            role="buyer",
            round=self.episode,
            rounds_left=1,
            balance=cash,
            private=Private(values={listing: round(value, 6)}, demand=1),
            market=MarketInfo(
                listings=[ListingInfo(id=listing, seller="current owner", service=listing, ask_price=0.0, remaining=1)],
                min_price=0.0,
                max_price=max(cash, 0.0),
                mechanism="sealed_bid",
            ),
        )

    @staticmethod
    def _check(listing: str, wealth: int) -> Any:
        def check(action: ActionBase) -> Verdict:
            if not isinstance(action, SealedBid):
                return Verdict.reject(RULE, "only sealed_bid is allowed here: bid for the state on sale")
            if action.listing_id != listing:
                return Verdict.reject(RULE, f"the state on sale is listing {listing}")
            if not 0 <= action.price <= to_units(wealth):
                return Verdict.reject(RULE, f"bid between 0 and your balance {to_units(wealth)}")
            return Verdict.accept()

        return check
