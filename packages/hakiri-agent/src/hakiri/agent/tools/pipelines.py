"""The ``pipeline.*`` tools: what the manifest defines, what a run would read, and running
one — ``pipeline.run`` is the only tool of the server that writes."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from mcp.server.mcpserver import MCPServer
from pydantic import Field

from hakiri.agent.tools._common import READ_ONLY, WRITES, load, tool_errors

__all__ = ["register"]

PipelineName = Annotated[str, Field(description="A pipeline name from `pipeline.list`.")]


def register(server: MCPServer, root: Path) -> None:
    """Add the pipeline tools for the project at ``root``."""

    @tool_errors
    def list_() -> dict[str, Any]:
        from hakiri.runtime.inspect import list_pipelines

        return {"pipelines": list_pipelines(load(root))}

    server.add_tool(
        list_,
        name="pipeline.list",
        title="List pipelines",
        description=(
            "Every pipeline of the project: its source connector, destination table, write "
            "disposition, schedule and last run (status, rows) if any."
        ),
        annotations=READ_ONLY,
    )

    @tool_errors
    def describe(
        pipeline: PipelineName,
        runs: Annotated[int, Field(ge=0, le=100, description="Recent runs to include.")] = 10,
    ) -> dict[str, Any]:
        from hakiri.runtime.inspect import describe_pipeline

        return describe_pipeline(load(root), pipeline, runs=runs)

    server.add_tool(
        describe,
        name="pipeline.describe",
        title="Describe a pipeline",
        description=(
            "One pipeline in full: its spec from hakiri.toml, cursor position, destination "
            "table (rows, files, columns), schema events and recent runs."
        ),
        annotations=READ_ONLY,
    )

    @tool_errors
    def dry_run(pipeline: PipelineName) -> dict[str, Any]:
        from hakiri.runtime.inspect import plan_pipeline

        return plan_pipeline(load(root), pipeline)

    server.add_tool(
        dry_run,
        name="pipeline.dry_run",
        title="Plan a run without running it",
        description=(
            "What `pipeline.run` would read now (full, incremental from the cursor, or the "
            "resume of an interrupted run) and its pages, without reading data or writing."
        ),
        annotations=READ_ONLY,
    )

    @tool_errors
    def run(pipeline: PipelineName) -> dict[str, Any]:
        from hakiri.runtime.executor import run_pipeline

        # The SDK runs this sync tool on a worker thread: other calls stay served.
        return run_pipeline(load(root), pipeline, trigger="mcp").to_dict()

    server.add_tool(
        run,
        name="pipeline.run",
        title="Run a pipeline (writes)",
        description=(
            "Run the pipeline to completion now: read its source from the cursor and commit "
            "the rows to its context table. WRITES to the context store and records a run. "
            "Returns the run summary (run_id, status, rows, pages, files). Fails with "
            "pipeline_busy if it is already running; follow it with `run.trace`."
        ),
        annotations=WRITES,
    )
