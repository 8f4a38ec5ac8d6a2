"""The record: the store's tables, writes in batches, and the read API.

The one owner of the database schema; knows nothing of how a market works. Python runs this
file before any module of the package, so by the time a ``Store`` exists every table module
has been imported (``tables``) and ``create_all`` sees the whole schema; ``store`` itself
imports no table module, which keeps the table modules (which import ``store``) out of a circle.
"""

from traces import tables  # noqa: F401  (every table module: the schema is complete before any store opens)
from traces.store import DEFAULT_DB, RoundBatch, Store, StoreError, normalise_url

__all__ = ["DEFAULT_DB", "RoundBatch", "Store", "StoreError", "normalise_url"]
