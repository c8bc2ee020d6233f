"""The ``context.*`` tools: the context store's tables, their schemas, and read-only SQL.

A store is opened per call, so every call sees the latest committed runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from mcp.server.mcpserver import MCPServer
from pydantic import Field

from hakiri.agent.ops import MAX_LIMIT, MAX_TIMEOUT, context_query, context_tables
from hakiri.agent.queries import QueryService
from hakiri.agent.tools._common import READ_ONLY, tool_errors

__all__ = ["register"]


def register(server: MCPServer, root: Path, queries: QueryService) -> None:
    """Add the context-store tools for the project at ``root``."""
    from hakiri.context.store import open_store

    @tool_errors
    def tables() -> dict[str, Any]:
        return context_tables(root)

    server.add_tool(
        tables,
        name="context.tables",
        title="List context tables",
        description=(
            "Every table in the context store (what `context.query` can read): its "
            "pipeline, write disposition, primary key and schema version."
        ),
        annotations=READ_ONLY,
    )

    @tool_errors
    def schema(
        table: Annotated[str, Field(description="A table name from `context.tables`.")],
    ) -> dict[str, Any]:
        with open_store(root) as store:
            return store.schema(table).to_dict()

    server.add_tool(
        schema,
        name="context.schema",
        title="Show a table's schema",
        description=(
            "A context table's current columns (name, type, nullable), primary key and "
            "schema policy, every schema version it has had, and its schema events. Read it "
            "before writing SQL for `context.query`."
        ),
        annotations=READ_ONLY,
    )

    @tool_errors
    def query(
        sql: Annotated[
            str, Field(description="One SELECT (or EXPLAIN) in DuckDB SQL over the tables.")
        ],
        limit: Annotated[
            int, Field(ge=1, le=MAX_LIMIT, description="Return at most this many rows.")
        ] = 100,
        timeout: Annotated[
            float,
            Field(
                gt=0,
                le=MAX_TIMEOUT,
                description="Stop the query after this many seconds (at most the project's "
                "[query] timeout).",
            ),
        ] = 30.0,
    ) -> dict[str, Any]:
        return context_query(queries, sql, limit=limit, timeout=timeout)

    server.add_tool(
        query,
        name="context.query",
        title="Query the context store (read-only SQL)",
        description=(
            "Run one read-only SQL statement (SELECT or EXPLAIN, DuckDB dialect) over the "
            "context tables; each table is a view of its committed files. Returns {columns, "
            "rows, row_count, truncated, truncated_by}; `truncated` is true when more than "
            "`limit` rows existed or the answer reached the project's byte cap "
            "(`truncated_by` says which) — aggregate in SQL instead of raising the limit. "
            "Writes, ATTACH, extensions and file reads are refused; time, memory and SQL "
            "length are bounded."
        ),
        annotations=READ_ONLY,
    )
