"""Queries for SQL Hakiri did not write: in a process that cannot write, within hard bounds.

``hakiri query``, MCP's ``context.query`` and ``POST /v1/query`` run every statement here
(docs/query-safety.md):

- the SQL is refused before parsing when longer than ``max_sql_length``;
- the parent reads the catalog (read-only) and hands the query process a *plan* — the views
  of the committed files — so the process never opens the catalog;
- the query process admits one read-only statement (DuckDB's parser decides), runs it on a
  locked-down in-memory DuckDB whose file access is the committed files alone, and cannot
  write any file at all (Landlock), nor grow past ``memory`` (DuckDB's ``memory_limit``, an
  address-space cap, and the parent's watch on its resident memory);
- the answer holds at most ``max_rows`` rows and ``max_answer_bytes`` bytes, and says what
  cut it short; a query past ``timeout`` is interrupted and, if that is not enough, its
  process is killed within half a second.

Example::

    from hakiri.context.sandbox import query_once

    result = query_once(
        project.store_root, project.catalog_url, sql, project.manifest.query, project.secrets()
    )

Importing this package is cheap, and the query process itself imports none of the pieces it
does not run (pydantic, SQLAlchemy): names load when first used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hakiri.context.sandbox._pool import QueryPool
    from hakiri.context.sandbox._process import QueryProcess
    from hakiri.context.sandbox._run import check_length, query_once, read_plan

__all__ = ["QueryPool", "QueryProcess", "check_length", "query_once", "read_plan"]

_HOME = {
    "QueryPool": "hakiri.context.sandbox._pool",
    "QueryProcess": "hakiri.context.sandbox._process",
    "check_length": "hakiri.context.sandbox._run",
    "query_once": "hakiri.context.sandbox._run",
    "read_plan": "hakiri.context.sandbox._run",
}


def __getattr__(name: str) -> Any:
    module = _HOME.get(name)
    if module is None:
        raise AttributeError(f"module 'hakiri.context.sandbox' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
