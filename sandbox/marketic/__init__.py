"""Markets of simple programs: each state of a small task is auctioned to primitive agents.

Bucket brigade, Vickrey and credit-conserving Vickrey payment rules with clones (the Cloned
Vickrey Society), money through the ledger, runs recorded and replayable. See docs/marketic.md.

    from sandbox.marketic import MarketicConfig, run_marketic
    result = run_marketic(MarketicConfig(task="lure", rule="ccv", clones=2, seed=0))
"""

from sandbox.marketic.record import replay, run_marketic
from sandbox.marketic.run import MarketicConfig, MarketicResult, Society

__all__ = ["MarketicConfig", "MarketicResult", "Society", "replay", "run_marketic"]
