"""The MCP server of a project: every tool, registered over one project directory."""

from __future__ import annotations

import atexit
from pathlib import Path

from mcp.server.mcpserver import MCPServer

from hakiri.agent.ops import version
from hakiri.agent.queries import QueryService
from hakiri.agent.tools import context, pipelines, runs, sources

__all__ = ["TOOL_NAMES", "build_server"]

TOOL_NAMES = (
    "catalog.list_connectors",
    "source.list_tables",
    "source.sample_table",
    "source.discover",
    "context.tables",
    "context.schema",
    "context.query",
    "pipeline.list",
    "pipeline.describe",
    "pipeline.dry_run",
    "pipeline.run",
    "run.tail",
    "run.trace",
)
"""The tools, by their documented names. Dots are valid in MCP tool names (the spec allows
``A-Za-z0-9_-.``, 1-128 characters), so the names on the wire are these."""

_INSTRUCTIONS = """\
Hakiri pulls data from sources into a context store you can query with SQL.
Start with `pipeline.list` and `context.tables`; read `context.schema` before writing SQL
for `context.query` (read-only, DuckDB dialect, aggregate rather than fetch many rows).
`source.discover` / `source.sample_table` look at a source live without writing.
`pipeline.run` is the only tool that writes: it runs a pipeline and records the run
(see `run.tail` and `run.trace`). Errors read `error[code]: message — hint`."""


def build_server(project_root: Path, queries: QueryService | None = None) -> MCPServer:
    """An MCP server whose tools act on the project at ``project_root``.

    ``queries`` runs ``context.query`` (a daemon shares its own with ``/v1/query``); without
    one the server gets its own, whose query processes end with this process.
    """
    server: MCPServer = MCPServer(
        name="hakiri",
        title="Hakiri",
        instructions=_INSTRUCTIONS,
        version=version(),
        # Tool failures are answers to the client, not news for the server's stderr.
        log_level="WARNING",
    )
    root = project_root.resolve()
    if queries is None:
        queries = QueryService(root)
        atexit.register(queries.close)
    context.register(server, root, queries)
    for module in (sources, pipelines, runs):
        module.register(server, root)
    return server
