"""Small deterministic decision tasks with known optimal policies (by value iteration).

Each task is a finite, deterministic, episodic MDP: states are small integers, actions
are names, ``step(state, action)`` gives the next state, the reward and whether the
episode ended. ``solve`` runs value iteration to the fixed point and returns the optimal
state values V*, action values Q* and, per state, the set of optimal actions (ties kept,
so a grid with several shortest paths accepts any of them).

- ``chain``: a corridor of ``n`` cells; reaching the right end pays 1.
- ``grid``: a 3 x 4 room with a goal in the far corner paying 1 and a pit paying -1.
- ``lure``: a corridor where every cell offers "cash" (0.4 now, episode ends) and
  "invest" (nothing now, one step on); the end pays 1. The optimal policy invests
  at every step, i.e. it must take steps that pay nothing immediately.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

Step = tuple[int, float, bool]


@dataclass(frozen=True)
class Task:
    """A deterministic episodic MDP: states ``0..n_states-1``, named actions, a start state."""

    name: str
    n_states: int
    actions: tuple[str, ...]
    start: int
    gamma: float
    transition: Callable[[int, str], Step] = field(repr=False)
    terminal: frozenset[int] = frozenset()
    labels: tuple[str, ...] = ()

    def step(self, state: int, action: str) -> Step:
        """Apply ``action`` in ``state``: (next state, reward, episode ended)."""
        if state in self.terminal:
            raise ValueError(f"state {state} of task {self.name} is terminal; start a new episode")
        return self.transition(state, action)

    def label(self, state: int) -> str:
        """A readable name of a state (for tables and plots)."""
        return self.labels[state] if self.labels else str(state)

    @property
    def decision_states(self) -> list[int]:
        """States in which an action is taken (every non-terminal state)."""
        return [s for s in range(self.n_states) if s not in self.terminal]


@dataclass(frozen=True)
class Solution:
    """Optimal values of a task: V*, Q* and the optimal action set of every decision state."""

    values: dict[int, float]
    q: dict[int, dict[str, float]]
    optimal_actions: dict[int, frozenset[str]]
    optimal_return: float


def solve(task: Task, tol: float = 1e-12, max_iter: int = 10_000) -> Solution:
    """Value iteration to the fixed point; optimal actions are those within 1e-9 of the best."""
    values = {s: 0.0 for s in range(task.n_states)}
    q: dict[int, dict[str, float]] = {}
    for _ in range(max_iter):
        delta = 0.0
        for s in task.decision_states:
            q[s] = {}
            for a in task.actions:
                s2, r, done = task.step(s, a)
                q[s][a] = r + (0.0 if done else task.gamma * values[s2])
            best = max(q[s].values())
            delta = max(delta, abs(best - values[s]))
            values[s] = best
        if delta < tol:
            break
    optimal = {s: frozenset(a for a, v in q[s].items() if v >= values[s] - 1e-9) for s in task.decision_states}
    return Solution(values, q, optimal, values[task.start])


def chain(n: int = 5, gamma: float = 0.9) -> Task:
    """A corridor ``0..n-1`` starting at 0; stepping onto ``n-1`` pays 1 and ends the episode."""
    if n < 2:
        raise ValueError("a chain needs at least 2 cells")

    def transition(s: int, a: str) -> Step:
        s2 = min(s + 1, n - 1) if a == "right" else max(s - 1, 0)
        return (s2, 1.0, True) if s2 == n - 1 else (s2, 0.0, False)

    return Task("chain", n, ("left", "right"), 0, gamma, transition, frozenset({n - 1}))


GRID_ROWS, GRID_COLS = 3, 4
GRID_MOVES = {"up": (-1, 0), "down": (1, 0), "left": (0, -1), "right": (0, 1)}


def grid(gamma: float = 0.9) -> Task:
    """A 3 x 4 room: start bottom-left, goal top-right (+1), pit below the goal (-1), one wall.

    Bumping into the wall or the border leaves the state unchanged (and pays nothing).
    """
    goal, pit, wall = (0, 3), (1, 3), (1, 1)

    def idx(r: int, c: int) -> int:
        return r * GRID_COLS + c

    def transition(s: int, a: str) -> Step:
        r, c = divmod(s, GRID_COLS)
        dr, dc = GRID_MOVES[a]
        nr, nc = r + dr, c + dc
        if not (0 <= nr < GRID_ROWS and 0 <= nc < GRID_COLS) or (nr, nc) == wall:
            nr, nc = r, c
        if (nr, nc) == goal:
            return idx(nr, nc), 1.0, True
        if (nr, nc) == pit:
            return idx(nr, nc), -1.0, True
        return idx(nr, nc), 0.0, False

    labels = tuple(f"r{r}c{c}" for r in range(GRID_ROWS) for c in range(GRID_COLS))
    # The wall cell is unreachable; it is terminal so that no decision is ever asked there.
    terminal = frozenset({idx(*goal), idx(*pit), idx(*wall)})
    return Task("grid", GRID_ROWS * GRID_COLS, tuple(GRID_MOVES), idx(2, 0), gamma, transition, terminal, labels)


def lure(n: int = 5, cash: float = 0.4, gamma: float = 0.9) -> Task:
    """Cells ``0..n-2`` offer cash (``cash`` now, episode ends) or invest (0 now, one step on).

    Investing from the last decision cell reaches the end and pays 1. State ``n-1`` is the
    end and state ``n`` is where cashing out leads; both are terminal.
    """
    end, out = n - 1, n

    def transition(s: int, a: str) -> Step:
        if a == "cash":
            return out, cash, True
        s2 = s + 1
        return (s2, 1.0, True) if s2 == end else (s2, 0.0, False)

    return Task("lure", n + 1, ("cash", "invest"), 0, gamma, transition, frozenset({end, out}))


TASKS: dict[str, Callable[[], Task]] = {"chain": chain, "grid": grid, "lure": lure}


def make_task(name: str) -> Task:
    """A task by name, with its default parameters."""
    try:
        return TASKS[name]()
    except KeyError:
        raise ValueError(f"unknown task {name!r}; choose one of {', '.join(TASKS)}") from None
