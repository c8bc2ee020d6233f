"""The ``run.*`` tools: the catalog's record of runs and the steps each took."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from mcp.server.mcpserver import MCPServer
from pydantic import Field

from hakiri.agent.ops import run_tail, run_trace
from hakiri.agent.tools._common import READ_ONLY, tool_errors

__all__ = ["register"]


def register(server: MCPServer, root: Path) -> None:
    """Add the run tools for the project at ``root``."""

    @tool_errors
    def tail(
        pipeline: Annotated[
            str | None, Field(description="Only this pipeline's runs; default: every run.")
        ] = None,
        limit: Annotated[int, Field(ge=1, le=200, description="How many runs.")] = 10,
    ) -> dict[str, Any]:
        return run_tail(root, pipeline, limit=limit)

    server.add_tool(
        tail,
        name="run.tail",
        title="Latest runs",
        description=(
            "The latest runs, newest first (of one pipeline or all): status, trigger, "
            "start/finish, rows, pages, files and error. Use a run_id with `run.trace`."
        ),
        annotations=READ_ONLY,
    )

    @tool_errors
    def trace(
        run_id: Annotated[str, Field(description="A run_id from `run.tail` or `pipeline.run`.")],
    ) -> dict[str, Any]:
        return run_trace(root, run_id)

    server.add_tool(
        trace,
        name="run.trace",
        title="Trace one run",
        description=(
            "One run's record and its steps in order (plan, pull, commit …) with their "
            "payloads: which pages were read and what each commit wrote."
        ),
        annotations=READ_ONLY,
    )
