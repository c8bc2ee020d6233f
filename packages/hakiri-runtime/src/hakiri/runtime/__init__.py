"""Hakiri runtime: the executor of the plan / pull / commit protocol and the ``hakiri`` CLI."""

from hakiri.runtime.executor import RunSummary, run_pipeline

__all__ = ["RunSummary", "run_pipeline"]
