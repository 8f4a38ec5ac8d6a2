"""Episodes of a marketic society: auction each state, pay through the ledger, learn bids.

One episode is one round of the record. Each step the current state is auctioned among
the primitives; the winner buys it (``rules.sale_postings``), applies its action and is
paid the environment's reward. After the episode every winner moves its bid for the state
it bought towards the revenue it realised (the reward plus, discounted by its time
preference ``gamma``, what the next buyer credited it):

    bid <- bid + lr * (reward + gamma * receipt - bid)

which is the bid that would have left it with zero utility, i.e. a truthful estimate of the
state's worth to it. Exploration is Gaussian noise on submitted bids, its standard deviation
falling linearly from ``sigma`` to ``sigma_min`` over the first ``decay`` share of episodes.
Every random draw comes from ``random.Random(f"{seed}/...")``, so a run is reproducible.

After every episode the books are checked (``Ledger.check``) and so is the conservation
identity: money in the society = endowments + rewards + subsidies - burns.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from protocols.auctions import AuctionResult
from protocols.money import to_micros, to_units
from protocols.settlement import Posting, account, endowment
from sandbox.ledger import Ledger, LedgerError
from sandbox.marketic.llm import LLMBidding
from sandbox.marketic.rules import RULES, get_rule, receipt, reward_postings, sale_postings
from sandbox.marketic.society import Primitive, greedy_action, make_primitives, sealed_bids, top_bid
from sandbox.marketic.tasks import TASKS, Solution, Task, make_task, solve

SOURCES = ("endowment", "reward", "subsidy")
SINKS = ("buy_from_world", "penalty")


class MarketicConfig(BaseModel):
    """Everything a marketic run depends on; stored as the run's ``config_json`` for replay."""

    model_config = ConfigDict(extra="forbid")

    task: str = Field("chain", description="chain, grid or lure")
    rule: str = Field("ccv", description="bucket_brigade, vickrey or ccv")
    clones: int = Field(2, ge=1, le=16, description="identical copies of each primitive")
    shared: bool = Field(True, description="clones share one bid table (literal copies) instead of learning apart")
    episodes: int = Field(300, ge=1, le=100_000)
    seed: int = 0
    lr: float = Field(0.2, gt=0, le=1, description="learning rate of the bid update")
    sigma: float = Field(0.3, ge=0, description="initial standard deviation of bid noise, in units")
    sigma_min: float = Field(0.02, ge=0, description="final standard deviation of bid noise")
    decay: float = Field(0.6, gt=0, le=1, description="share of episodes over which the noise decays")
    endowment: float = Field(20.0, ge=0, description="money each primitive starts with, in units")
    init_bid: float = Field(
        1.0, description="every bid before any learning (1.0 is optimistic: no state is worth more)"
    )
    max_steps: int | None = Field(None, ge=1, description="step cap per episode (default 4 x states)")
    bidder: str | None = Field(
        None,
        description="litellm model whose LLM agents decide the bids (e.g. scripted/marketic_truthful); None: bid the value",
    )

    @field_validator("task")
    @classmethod
    def _known_task(cls, v: str) -> str:
        if v not in TASKS:
            raise ValueError(f"unknown task {v!r}; choose one of {', '.join(TASKS)}")
        return v

    @field_validator("rule")
    @classmethod
    def _known_rule(cls, v: str) -> str:
        if v not in RULES:
            raise ValueError(f"unknown payment rule {v!r}; choose one of {', '.join(RULES)}")
        return v

    @property
    def scenario(self) -> str:
        """The scenario name written to the run row."""
        return f"marketic/{self.task}/{self.rule}"

    def noise(self, episode: int) -> float:
        """Standard deviation of the bid noise in ``episode`` (1-based)."""
        span = self.decay * self.episodes
        return max(self.sigma_min, self.sigma * (1.0 - (episode - 1) / span))


@dataclass
class StepRecord:
    """One auctioned step: the state, every sealed bid, the clearing, the action and reward."""

    t: int
    state: int
    result: AuctionResult
    action: str
    reward: float
    next_state: int
    done: bool

    @property
    def winner(self) -> str:
        """The primitive that bought the state."""
        assert self.result.winner is not None
        return self.result.winner

    @property
    def price(self) -> int:
        """What the winner paid for the state (micro-units)."""
        return self.result.price


StepHook = Callable[[StepRecord, "str | None"], None]


@dataclass
class EpisodeLog:
    """What one episode produced: its steps and the hash replay compares."""

    episode: int
    steps: list[StepRecord] = field(default_factory=list)

    def digest(self) -> str:
        """A hash of every bid, winner and price of the episode, in order."""
        h = hashlib.sha256()
        for s in self.steps:
            bids = ",".join(f"{b.bidder}={b.amount}" for b in s.result.ranking)
            h.update(f"{s.t}|{s.state}|{bids}|{s.winner}|{s.price}|{s.next_state}\n".encode())
        return h.hexdigest()


class Society:
    """A marketic run in progress: the task, its solution, the primitives and the ledger."""

    def __init__(self, config: MarketicConfig, task: Task | None = None) -> None:
        """Build the society; ``task`` overrides the named task (tests, custom tasks; not replayable by name)."""
        self.config = config
        self.task: Task = task or make_task(config.task)
        self.solution: Solution = solve(self.task)
        self.rule = get_rule(config.rule)
        self.primitives: list[Primitive] = make_primitives(self.task, config.clones, config.seed, config.shared)
        self.by_id = {p.pid: p for p in self.primitives}
        self.max_steps = config.max_steps or 4 * self.task.n_states
        self.ledger = Ledger()
        self.flows: Counter[str] = Counter()
        self.episode = 0
        self._ties = random.Random(f"{config.seed}/ties")
        self.llm: LLMBidding | None = None
        if config.bidder:
            self.llm = LLMBidding(self.primitives, config.bidder, config.seed, self.task.label)
        for p in self.primitives:
            self._post(endowment(p.pid, to_micros(config.endowment)), 0, "endowment")

    def _post(self, postings: Sequence[Posting], round_: int, ref: str) -> None:
        for e in self.ledger.post_all(postings, round_, ref):
            self.flows[e.kind] += e.amount

    def wealth(self) -> dict[str, int]:
        """Every primitive's balance in micro-units."""
        return {p.pid: self.ledger.balance(account(p.pid)) for p in self.primitives}

    def play_episode(self, on_step: StepHook | None = None) -> tuple[EpisodeLog, dict[str, Any]]:
        """Play, pay, learn and check one episode; return its log and metrics.

        ``on_step(step, seller)`` is called after each step's auction has cleared and paid
        (tracing uses it); it must not change the society.
        """
        self.episode += 1
        ep, cfg, task = self.episode, self.config, self.task
        log = EpisodeLog(ep)
        sigma = cfg.noise(ep)
        state, seller = task.start, None
        bidding = self.llm or sealed_bids
        if self.llm is not None:
            self.llm.begin_episode(ep)
        for t in range(self.max_steps):
            bids = bidding(self.primitives, state, self.wealth(), sigma, cfg.init_bid)
            self._ties.shuffle(bids)  # equal bids go to a seeded random one of them
            result = self.rule.clear(bids)
            assert result.winner is not None  # reserve 0 and every bid >= 0: someone always wins
            ref = f"step {t}"
            self._post(sale_postings(self.rule, result, seller), ep, ref)
            winner = self.by_id[result.winner]
            winner.wins += 1
            nxt, reward, done = task.step(state, winner.action)
            balance = self.ledger.balance(account(winner.pid))
            self._post(reward_postings(winner.pid, to_micros(reward), balance), ep, ref)
            log.steps.append(StepRecord(t, state, result, winner.action, reward, nxt, done))
            if on_step is not None:
                on_step(log.steps[-1], seller)
            state, seller = nxt, winner.pid
            if done:
                break
        self._learn(log)
        self.audit()
        return log, self.metrics(log, sigma)

    def _learn(self, log: EpisodeLog) -> None:
        """Each winner moves its bid for the state it bought towards reward + receipt."""
        for i, s in enumerate(log.steps):
            # The last step has no buyer: at a terminal state (or the step cap) nobody credits it.
            credited = receipt(self.rule, log.steps[i + 1].result) if i + 1 < len(log.steps) else 0
            target = s.reward + self.task.gamma * to_units(credited)
            self.by_id[s.winner].learn(s.state, target, self.config.lr, self.config.init_bid)

    def audit(self) -> None:
        """Raise ``LedgerError`` unless the books balance and money = sources - sinks."""
        self.ledger.check()
        expected = sum(self.flows[k] for k in SOURCES) - sum(self.flows[k] for k in SINKS)
        if self.ledger.money_supply != expected:
            raise LedgerError(f"money in the society is {self.ledger.money_supply} but sources - sinks = {expected}")
        held = sum(self.wealth().values())
        if held != self.ledger.money_supply:
            raise LedgerError(f"primitives hold {held} but {self.ledger.money_supply} was minted into the society")

    def greedy_rollout(self) -> tuple[float, list[int]]:
        """Discounted return and path of the society with exploration off (no money moves)."""
        wealth, state, ret, path = self.wealth(), self.task.start, 0.0, [self.task.start]
        for t in range(self.max_steps):
            state, r, done = self.task.step(state, greedy_action(self.primitives, state, wealth, self.config.init_bid))
            ret += self.task.gamma**t * r
            path.append(state)
            if done:
                break
        return ret, path

    def metrics(self, log: EpisodeLog, sigma: float) -> dict[str, Any]:
        """Return, greedy policy against the optimum, bids against V*, prices and wealth."""
        task, sol, init = self.task, self.solution, self.config.init_bid
        wealth = self.wealth()
        states = task.decision_states
        greedy = {s: greedy_action(self.primitives, s, wealth, init) for s in states}
        top = {s: top_bid(self.primitives, s, wealth, init) for s in states}
        correct = [s for s in states if greedy[s] in sol.optimal_actions[s]]
        g_ret, g_path = self.greedy_rollout()
        prices = [s.price for s in log.steps]
        return {
            "episode": log.episode,
            "steps": len(log.steps),
            "return": sum(task.gamma**s.t * s.reward for s in log.steps),
            "optimal_return": sol.optimal_return,
            "greedy_return": g_ret,
            "greedy_optimal": g_ret >= sol.optimal_return - 1e-9,
            "greedy_path": [task.label(s) for s in g_path],
            "policy_accuracy": len(correct) / len(states),
            "policy": {task.label(s): greedy[s] for s in states},
            "value_error": sum(abs(to_units(top[s]) - sol.values[s]) for s in states) / len(states),
            "top_bids": {task.label(s): to_units(top[s]) for s in states},
            "optimal_values": {task.label(s): round(sol.values[s], 6) for s in states},
            "mean_price": to_units(sum(prices)) / len(prices) if prices else None,
            "volume": to_units(sum(prices)),
            "sigma": sigma,
            "money_supply": to_units(self.ledger.money_supply),
            "flows": {k: to_units(v) for k, v in sorted(self.flows.items())},
            "wealth": {pid: to_units(w) for pid, w in wealth.items()},
            "broke": sum(1 for w in wealth.values() if w < to_micros(0.01)),
        }


@dataclass
class MarketicResult:
    """A finished marketic run: its id, config, per-episode metrics and final society."""

    run_id: str | None
    config: MarketicConfig
    history: list[dict[str, Any]]
    society: Society

    @property
    def last(self) -> dict[str, Any]:
        """Metrics of the last episode."""
        return self.history[-1]

    def first_optimal_episode(self) -> int | None:
        """First episode from which the greedy path from the start is optimal through to the end."""
        first = None
        for m in self.history:
            ok = m["greedy_optimal"]
            first = (first or m["episode"]) if ok else None
        return first

    def reached_optimum(self, tail: float = 0.1) -> bool:
        """Whether the greedy policy was optimal through at least the last ``tail`` share of episodes."""
        first = self.first_optimal_episode()
        return first is not None and first <= len(self.history) - max(1, int(tail * len(self.history))) + 1


def summary(result: MarketicResult) -> dict[str, Any]:
    """A short summary of a run for the run row and the command line."""
    last = result.last
    tail = result.history[-max(1, len(result.history) // 10) :]
    return {
        "episodes": len(result.history),
        "first_optimal_episode": result.first_optimal_episode(),
        "reached_optimum": result.reached_optimum(),
        "greedy_return": last["greedy_return"],
        "optimal_return": last["optimal_return"],
        "policy_accuracy": last["policy_accuracy"],
        "value_error": last["value_error"],
        "mean_return_last_10pct": sum(m["return"] for m in tail) / len(tail),
        "subsidy": last["flows"].get("subsidy", 0.0),
        "broke": last["broke"],
        "money_supply": last["money_supply"],
    }


def to_json(metrics: dict[str, Any]) -> str:
    """Metrics as canonical JSON (for ``rounds.metrics_json``)."""
    return json.dumps(metrics, sort_keys=True, default=str)
