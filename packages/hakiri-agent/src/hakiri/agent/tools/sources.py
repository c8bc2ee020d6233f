"""``catalog.list_connectors`` and the ``source.*`` tools: what can be read, and a live look
at a pipeline's source. Nothing here writes (no run, no catalog, no store directory)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from mcp.server.mcpserver import MCPServer
from pydantic import Field

from hakiri.agent.ops import list_connectors
from hakiri.agent.tools._common import READ_ONLY, load, table_payload, tool_errors

__all__ = ["register"]

PipelineName = Annotated[
    str, Field(description="A pipeline name from `pipeline.list` (its source is what is read).")
]


def register(server: MCPServer, root: Path) -> None:
    """Add the catalog and source tools for the project at ``root``."""
    server.add_tool(
        tool_errors(list_connectors),
        name="catalog.list_connectors",
        title="List installed connectors",
        description=(
            "Every installed source connector: its name, what it reads, and the JSON Schema "
            "of the options a pipeline's [source] table takes. Use it to write or fix a "
            "pipeline in hakiri.toml."
        ),
        annotations=READ_ONLY,
    )

    @tool_errors
    def list_tables(pipeline: PipelineName) -> dict[str, Any]:
        from hakiri.runtime.sources import discover_pipeline

        found = discover_pipeline(load(root), pipeline)
        tables = [{"name": s["name"], "description": s["description"]} for s in found["streams"]]
        return {"pipeline": pipeline, "connector": found["connector"], "tables": tables}

    server.add_tool(
        list_tables,
        name="source.list_tables",
        title="List a source's tables",
        description=(
            "The names of the tables (streams) the pipeline's source offers, e.g. every table "
            "of a Postgres schema. Short; use `source.discover` for columns and keys, and "
            "`source.sample_table` to see rows."
        ),
        annotations=READ_ONLY,
    )

    @tool_errors
    def discover(pipeline: PipelineName) -> dict[str, Any]:
        from hakiri.runtime.sources import discover_pipeline

        return discover_pipeline(load(root), pipeline)

    server.add_tool(
        discover,
        name="source.discover",
        title="Discover a source's streams",
        description=(
            "Every stream the pipeline's source offers, live: name, description, primary "
            "key, cursor field, columns (name, Arrow type, nullable) where cheap to know, "
            "and the source options that select the stream."
        ),
        annotations=READ_ONLY,
    )

    @tool_errors
    def sample_table(
        pipeline: PipelineName,
        table: Annotated[
            str | None,
            Field(description="A table from `source.list_tables`; default: the pipeline's own."),
        ] = None,
        limit: Annotated[int, Field(ge=1, le=1000, description="Rows to read.")] = 10,
    ) -> dict[str, Any]:
        from hakiri.runtime.sources import sample_pipeline

        sample = sample_pipeline(load(root), pipeline, stream=table, limit=limit)
        return {"pipeline": pipeline, "table": table, **table_payload(sample)}

    server.add_tool(
        sample_table,
        name="source.sample_table",
        title="Sample rows from a source",
        description=(
            "Up to `limit` rows read live from the pipeline's source (or another of its "
            "tables), reading as few pages as it can. Returns {columns, rows} with rows as "
            "lists in column order. Writes nothing."
        ),
        annotations=READ_ONLY,
    )
