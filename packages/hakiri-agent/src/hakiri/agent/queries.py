"""The query processes of a long-running server: MCP's ``context.query`` and ``/v1/query``.

A server keeps a ``QueryPool`` (``[query] workers`` processes behind a queue of ``[query]
queue``) from its first query until it stops, so a query pays no process start. The
manifest is read on every call — a call's timeout and row limit may only narrow the
``[query]`` bounds, never raise them — but the bounds of the processes themselves
(``memory``, ``threads``, ``workers``, ``queue``) are those of the first query's manifest
until the server restarts.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hakiri.core.closing import Closing

if TYPE_CHECKING:
    from hakiri.context.sandbox import QueryPool
    from hakiri.core.query_limits import QueryLimits

__all__ = ["QueryService"]


class QueryService(Closing):
    """Sandboxed queries over one project's store, for one server's lifetime."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._pool: QueryPool | None = None
        self._lock = threading.Lock()
        self._closed = False

    @property
    def sandbox(self) -> str | None:
        """What keeps queries from writing (``"landlock ABI 7"``), once one has run."""
        return self._pool.sandbox if self._pool is not None else None

    def query(self, sql: str, *, limit: int | None, timeout: float | None) -> dict[str, Any]:
        """One read-only statement as ``{columns, rows, row_count, truncated, …}``."""
        from hakiri.agent.ops import load, table_payload
        from hakiri.context.sandbox import check_length, read_plan

        project = load(self.root)
        limits = project.manifest.query.narrowed(timeout=timeout, max_rows=limit)
        check_length(sql, limits)  # before anything else is spent on it
        plan = read_plan(project.store_root, project.catalog_url, project.secrets())
        result = self._pool_for(limits).run(plan, sql, limits)
        return {
            **table_payload(result.table),
            "row_count": result.num_rows,
            "truncated": result.truncated,
            "truncated_by": result.truncated_by,
            "elapsed_seconds": round(result.elapsed, 3),
        }

    def _pool_for(self, limits: QueryLimits) -> QueryPool:
        from hakiri.context.sandbox import QueryPool
        from hakiri.core.errors import QueryBusy

        with self._lock:
            if self._closed:
                raise QueryBusy("the server is shutting down")
            if self._pool is None:
                self._pool = QueryPool(limits)
            return self._pool

    def close(self) -> None:
        with self._lock:
            self._closed = True
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.close()
