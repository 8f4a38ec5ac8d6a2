"""The ``agora`` command line: one module per group of commands, the shared parts in ``common``."""

from sandbox.cli.core import app, main

__all__ = ["app", "main"]
