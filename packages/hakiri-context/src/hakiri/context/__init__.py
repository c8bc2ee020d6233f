"""Hakiri's context store: catalog adapters, the Parquet writer and the DuckDB query layer.

Importing this package is cheap: pyarrow, DuckDB and SQLAlchemy load only when a name
below is first used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hakiri.context.catalog import open_catalog
    from hakiri.context.parquet import ParquetFileInfo, write_parquet
    from hakiri.context.query import QueryResult
    from hakiri.context.store import ContextStore, TableSchema, open_store

__all__ = [
    "ContextStore",
    "ParquetFileInfo",
    "QueryResult",
    "TableSchema",
    "open_catalog",
    "open_store",
    "write_parquet",
]

_HOME = {
    "ContextStore": "hakiri.context.store",
    "TableSchema": "hakiri.context.store",
    "open_store": "hakiri.context.store",
    "QueryResult": "hakiri.context.query",
    "ParquetFileInfo": "hakiri.context.parquet",
    "write_parquet": "hakiri.context.parquet",
    "open_catalog": "hakiri.context.catalog",
}


def __getattr__(name: str) -> Any:
    module = _HOME.get(name)
    if module is None:
        raise AttributeError(f"module 'hakiri.context' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
