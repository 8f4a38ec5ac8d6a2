"""Imports every module that defines tables, so ``create_all`` creates the whole schema.

A new table module adds one import here.
"""

from traces import control, schema  # noqa: F401
from traces import audit  # noqa: F401,E402  (indexes for the UI's audit queries)
