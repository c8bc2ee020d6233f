"""The operations the agent surface offers, as plain functions over a project directory.

The MCP tools and the daemon's HTTP API both answer with these, so an agent and a workflow
see the same JSON. Each call reads the manifest and opens the store afresh: edits to
hakiri.toml and runs committed by other processes show without a restart.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hakiri.core.errors import HakiriError, UnknownRun

if TYPE_CHECKING:
    import pyarrow as pa

    from hakiri.agent.queries import QueryService
    from hakiri.core.manifest import Project

__all__ = [
    "MAX_LIMIT",
    "MAX_TIMEOUT",
    "context_query",
    "context_tables",
    "list_connectors",
    "load",
    "run_tail",
    "run_trace",
    "table_payload",
    "version",
]

MAX_LIMIT = 10_000
"""The most rows one query returns: more would swamp an agent's context."""
MAX_TIMEOUT = 300.0
"""The longest a call may ask a query to run, in seconds ([query] timeout may be shorter)."""


def version() -> str:
    """This distribution's version (``0`` in a source checkout without metadata)."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as dist_version

    try:
        return dist_version("hakiri-agent")
    except PackageNotFoundError:
        return "0"


def load(root: Path) -> Project:
    """The project, read again on every call so manifest edits show without a restart."""
    from hakiri.core.manifest import load_project

    return load_project(root)


def table_payload(table: pa.Table) -> dict[str, Any]:
    """Arrow rows as ``{"columns", "rows"}`` (rows are lists, so duplicate column names
    survive); values JSON cannot hold (timestamps, decimals, bytes) become strings."""
    values = [column.to_pylist() for column in table.columns]
    rows = [list(row) for row in zip(*values, strict=True)]
    rows = json.loads(json.dumps(rows, default=str, ensure_ascii=False))
    return {"columns": list(table.column_names), "rows": rows}


def list_connectors() -> dict[str, Any]:
    """Every installed source connector with the JSON Schema of its options."""
    from hakiri.core.plugins import connector_names, load_connector

    connectors: list[dict[str, Any]] = []
    for name in connector_names():
        try:
            factory = load_connector(name, kind="source")
        except HakiriError as err:
            # One broken or non-source plugin must not hide the others.
            connectors.append({"name": name, "error": f"error[{err.code}]: {err.one_line()}"})
            continue
        connectors.append(
            {
                "name": factory.name,
                "kind": factory.kind,
                "description": factory.description,
                "options_schema": factory.config_model.model_json_schema(),
            }
        )
    return {"connectors": connectors}


def context_tables(root: Path) -> dict[str, Any]:
    """The context store's tables (what a query can read)."""
    from hakiri.context.store import open_store

    with open_store(root) as store:
        return {
            "tables": [
                {
                    "name": t.name,
                    "pipeline": t.pipeline,
                    "write": t.write.value,
                    "primary_key": list(t.primary_key),
                    "schema_version": t.schema_version,
                    "updated_at": t.updated_at.isoformat(),
                }
                for t in store.tables()
            ]
        }


def context_query(
    queries: QueryService, sql: str, *, limit: int | None, timeout: float | None
) -> dict[str, Any]:
    """One read-only statement over the store, in the server's query processes
    (docs/query-safety.md)."""
    return queries.query(sql, limit=limit, timeout=timeout)


def run_tail(root: Path, pipeline: str | None, *, limit: int) -> dict[str, Any]:
    """The latest runs, newest first, of one pipeline or all."""
    from hakiri.runtime.inspect import open_existing_catalog, run_dict

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


def run_trace(root: Path, run_id: str) -> dict[str, Any]:
    """One run's record and its steps in order."""
    from hakiri.runtime.inspect import open_existing_catalog, run_dict

    catalog = open_existing_catalog(load(root))
    if catalog is None:
        raise UnknownRun(f"no run {run_id!r}: the project has not run yet")
    try:
        run = catalog.get_run(run_id)
        if run is None:
            raise UnknownRun(f"no run {run_id!r}", hint="see the latest runs for run ids")
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
