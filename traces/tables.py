"""Imports every module that defines tables, so ``create_all`` creates the whole schema.

A new table module adds one import here; the package's ``__init__`` imports this module, so
every table is known before a store opens (the store itself imports no table module).
"""

from traces import control, schema  # noqa: F401,I001  (one import line per table module, appended)
from traces import audit  # noqa: F401,E402  (indexes for the UI's audit queries)
from traces import spans  # noqa: F401,E402  (span table and span counts)
from traces import sweeps  # noqa: F401,E402  (which runs a sweep made)
from traces import alerts  # noqa: F401,E402  (alerts, breaker events, interventions)
from traces import llm_calls  # noqa: F401,E402  (every LLM call: request, response, usage, cost, fault)
from traces import write_log  # noqa: F401,E402  (every write the audit app was asked to make)

from sqlalchemy.util import OrderedSet  # noqa: E402
from sqlmodel import SQLModel  # noqa: E402


def _indexes_in_name_order() -> None:
    """Make ``create_all`` create each table's indexes in name order.

    It creates them in the order of ``table.indexes``, a set ordered by object ids, so that order
    (and with it which of two equally weighted indexes SQLite picks on a store without statistics)
    differed between processes, with the hash seed and with what the process had imported.
    """
    for table in SQLModel.metadata.tables.values():
        table.indexes = OrderedSet(sorted(table.indexes, key=lambda index: str(index.name)))


_indexes_in_name_order()
