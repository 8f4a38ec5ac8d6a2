"""The record: the store's tables, writes in batches, and the read API.

The one owner of the database schema; knows nothing of how a market works.
"""

from traces.store import DEFAULT_DB, RoundBatch, Store, StoreError, normalise_url

__all__ = ["DEFAULT_DB", "RoundBatch", "Store", "StoreError", "normalise_url"]
