"""Hakiri runtime: the executor of the plan / pull / commit protocol and the ``hakiri`` CLI.

``run_pipeline`` and ``RunSummary`` load on first use so ``hakiri --help`` stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hakiri.runtime.executor import RunSummary, run_pipeline

__all__ = ["RunSummary", "run_pipeline"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from hakiri.runtime import executor

        return getattr(executor, name)
    raise AttributeError(f"module 'hakiri.runtime' has no attribute {name!r}")
