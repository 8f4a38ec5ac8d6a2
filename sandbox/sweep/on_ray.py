"""The Ray executor of sweeps: one Ray task per run, results collected as they finish.

Ray is an optional dependency (``pip install 'agora-sandbox[ray]'``). With no address, Ray
starts a local cluster on this machine; with ``address`` (or ``RAY_ADDRESS``) it joins an
existing one, whose workers need Agora installed. Each task runs the ``run_cell`` it is given
(``sandbox.sweep.core.run_cell``, passed in so this module does not import the core back): it
writes straight into a shared PostgreSQL store, or returns its rows for the driver to merge.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sandbox.sweep.core import Cell


def _ray() -> Any:
    try:
        import ray
    except ImportError:
        raise RuntimeError("the ray executor needs Ray: pip install 'agora-sandbox[ray]'") from None
    return ray


def ray_map(
    run_cell: Callable[[Cell, str | None, str], dict[str, Any]],
    todo: list[Cell],
    db_url: str | None,
    scratch: str,
    workers: int | None,
    address: str | None,
) -> Iterator[tuple[Cell, dict[str, Any]]]:
    """Yield (cell, outcome) as Ray tasks running ``run_cell`` finish."""
    ray = _ray()
    started_here = not ray.is_initialized()
    if started_here:
        ray.init(
            address=address or os.environ.get("RAY_ADDRESS") or None,
            num_cpus=None if address else (workers or os.cpu_count()),
            include_dashboard=False,
            log_to_driver=False,
            configure_logging=False,
        )
    try:
        task = ray.remote(num_cpus=1)(run_cell)
        # a remote worker cannot see this machine's scratch directory; give it its own
        pending = {task.remote(c, db_url, scratch if not address else "/tmp"): c for c in todo}
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            for ref in ready:
                yield pending.pop(ref), ray.get(ref)
    finally:
        if started_here:
            ray.shutdown()
