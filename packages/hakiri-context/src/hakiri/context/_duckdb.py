"""Optional dependencies, imported only inside the functions that need them.

``import hakiri.context`` never loads DuckDB or Polars; a missing one becomes a
``MissingDependency`` that names the extra to install.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from hakiri.core.errors import MissingDependency

__all__ = ["import_duckdb", "import_polars"]


def import_duckdb() -> ModuleType:
    """The ``duckdb`` module, or ``MissingDependency`` naming the ``duckdb`` extra."""
    return _import(
        "duckdb",
        "`hakiri query` needs DuckDB, which is not installed",
        "duckdb",
    )


def import_polars() -> ModuleType:
    """The ``polars`` module, or ``MissingDependency`` naming the ``polars`` extra."""
    return _import("polars", "this needs Polars, which is not installed", "polars")


def _import(module: str, message: str, extra: str) -> ModuleType:
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingDependency(
            message,
            hint=(
                f"install it with: pip install 'hakiri-context[{extra}]'  "
                f"(or: uv add 'hakiri-context[{extra}]')"
            ),
        ) from exc
