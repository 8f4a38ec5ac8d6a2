"""Parameter sweeps: the grid, the runs (local processes or Ray), the report."""

from sandbox.sweep.core import Cell, SweepResult, SweepSpec, load_result, load_sweep, run_cell, run_sweep

__all__ = ["Cell", "SweepResult", "SweepSpec", "load_result", "load_sweep", "run_cell", "run_sweep"]
