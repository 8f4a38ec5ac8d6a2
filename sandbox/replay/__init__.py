"""Exact replay, fork and resume of recorded runs, the record checker, and run comparison."""

from sandbox.replay.core import Replayer, ReplayError, afork, areplay, aresume, fork, replay, resume

__all__ = ["ReplayError", "Replayer", "afork", "areplay", "aresume", "fork", "replay", "resume"]
