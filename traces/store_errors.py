"""The store's errors: one sentence that says what to change, and whether trying again later may work.

Their own module so the store (``traces.store``) and its driver-level writes (``traces.sql_writes``)
both raise them without importing each other; ``traces.store`` re-exports them.
"""

from __future__ import annotations


class StoreError(RuntimeError):
    """A store problem explained in one sentence that says what to change."""

    transient = False  # True: the store could not be reached now; trying again later may work


class StoreUnavailable(StoreError):
    """The store stayed away longer than the writer waits; the message says how to go on."""

    transient = True
