"""The ``run.*`` tools: the catalog's record of runs and the steps each took."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from mcp.server.mcpserver import MCPServer
from pydantic import Field

from hakiri.agent.tools._common import READ_ONLY, load, tool_errors
from hakiri.core.errors import HakiriError

__all__ = ["UnknownRun", "register"]


class UnknownRun(HakiriError):
    code = "unknown_run"
    exit_code = 2


def register(server: MCPServer, root: Path) -> None:
    """Add the run tools for the project at ``root``."""
    from hakiri.runtime.inspect import open_existing_catalog, run_dict

    @tool_errors
    def tail(
        pipeline: Annotated[
            str | None, Field(description="Only this pipeline's runs; default: every run.")
        ] = None,
        limit: Annotated[int, Field(ge=1, le=200, description="How many runs.")] = 10,
    ) -> dict[str, Any]:
        project = load(root)
        if pipeline is not None:
            project.pipeline(pipeline)  # an unknown name is an error, not "no runs"
        catalog = open_existing_catalog(project)
        if catalog is None:
            return {"runs": []}
        try:
            runs = catalog.list_runs(pipeline, limit=limit)
            return {"runs": [{"pipeline": r.pipeline, **run_dict(r)} for r in runs]}
        finally:
            catalog.close()

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
        catalog = open_existing_catalog(load(root))
        if catalog is None:
            raise UnknownRun(f"no run {run_id!r}: the project has not run yet")
        try:
            run = catalog.get_run(run_id)
            if run is None:
                raise UnknownRun(f"no run {run_id!r}", hint="see `run.tail` for run ids")
            steps = [
                {
                    "key": s.key,
                    "kind": s.kind,
                    "created_at": s.created_at.isoformat(),
                    "payload": s.payload,
                }
                for s in catalog.list_steps(run_id)
            ]
            return {"run": {"pipeline": run.pipeline, **run_dict(run)}, "steps": steps}
        finally:
            catalog.close()

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
