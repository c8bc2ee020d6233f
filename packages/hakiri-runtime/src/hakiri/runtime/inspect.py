"""Read-only views of a project for ``plan`` and ``pipeline list/describe`` (and the
agent's read tools: ``run.tail``, ``run.trace``, ``pipeline.list/describe/dry_run``).

Nothing here writes: a project that has never run has no catalog, and looking at it must
not create one; an existing catalog is opened read-only, so looking never migrates it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hakiri.core.cursor import CursorKind, JsonValue
from hakiri.core.errors import CatalogNotFound
from hakiri.core.manifest import PipelineSpec, Project
from hakiri.core.plugins import open_catalog, read_only_catalog_url
from hakiri.core.ports import Catalog
from hakiri.core.records import RunRecord, WriteDisposition
from hakiri.runtime.cursor_state import CursorState

__all__ = [
    "describe_pipeline",
    "list_pipelines",
    "open_existing_catalog",
    "run_dict",
    "plan_pipeline",
    "position_summary",
]


def open_existing_catalog(project: Project) -> Catalog | None:
    """The project's catalog opened read-only, or None when it does not exist yet (no local
    file; a server database no run has written to).

    Read-only means ``read_only_catalog_url`` (``?mode=ro``): nothing is written, not even an
    older catalog's schema upgrade or a server catalog's tables, and a write fails with
    ``CatalogError``.
    """
    url = project.catalog_url
    scheme, _, rest = url.partition("://")
    if scheme.split("+", 1)[0].lower() == "sqlite":
        path = rest.partition("?")[0]
        if not Path(path.removeprefix("/")).is_file():
            return None
    try:
        return open_catalog(read_only_catalog_url(url), secrets=project.secrets())
    except CatalogNotFound:  # a server catalog no run has created yet
        return None


def position_summary(kind: CursorKind, position: JsonValue) -> str:
    """A cursor position short enough for one line of text (``--json`` keeps it whole): a
    keyed cursor (a version per file) says how many keys it tracks."""
    if kind is CursorKind.KEYED and isinstance(position, dict):
        return f"{len(position):,} keys tracked"
    return str(position)


def run_dict(run: RunRecord) -> dict[str, Any]:
    """A run as JSON, the same in `pipeline describe` and the agent's run tools."""
    return {
        "run_id": run.run_id,
        "status": str(run.status),
        "started_at": run.started_at.isoformat(),
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
        "rows": run.rows,
        "pages": run.pages,
        "files": run.files,
        "trigger": run.trigger,
        "resumed_from": run.resumed_from,
        "error": (
            {"code": run.error_code, "message": run.error_message} if run.error_code else None
        ),
    }


def _spec_dict(spec: PipelineSpec) -> dict[str, Any]:
    data = spec.model_dump(mode="json", exclude_defaults=False)
    data["table"] = spec.table
    return data


def list_pipelines(project: Project) -> list[dict[str, Any]]:
    catalog = open_existing_catalog(project)
    try:
        rows = []
        for name, spec in project.manifest.pipelines.items():
            last = catalog.list_runs(name, limit=1) if catalog else []
            rows.append(
                {
                    "name": name,
                    "source": spec.source.connector,
                    "table": spec.table,
                    "write": str(spec.destination.write),
                    "schedule": spec.schedule,
                    "last_run": run_dict(last[0]) if last else None,
                }
            )
        return rows
    finally:
        if catalog:
            catalog.close()


def describe_pipeline(project: Project, name: str, *, runs: int = 10) -> dict[str, Any]:
    spec = project.pipeline(name)
    info: dict[str, Any] = {
        "name": name,
        "defined_in": str(project.origins.get(name, project.root)),
        "spec": _spec_dict(spec),
        "schema_policy": str(spec.destination.schema_policy),
        "cursor": None,
        "table": None,
        "runs": [],
        "events": [],
    }
    catalog = open_existing_catalog(project)
    if catalog is None:
        return info
    try:
        cursor = catalog.get_cursor(name)
        if cursor is not None:
            state = CursorState.from_value(cursor.value)
            info["cursor"] = {
                "kind": str(cursor.kind),
                "version": cursor.version,
                "position": state.position,
                "position_summary": position_summary(cursor.kind, state.position),
                "pages_left_from_interrupted_run": (
                    len(state.frontier) if state.frontier is not None else None
                ),
            }
        table = catalog.get_table(spec.table)
        if table is not None:
            files = catalog.list_files(spec.table)
            versions = catalog.schema_versions(spec.table)
            info["table"] = {
                "name": table.name,
                "write": str(table.write),
                "rows": sum(f.rows for f in files),
                "files": len(files),
                "bytes": sum(f.bytes for f in files),
                "schema_version": table.schema_version,
                "schema_policy": str(table.schema_policy),
                "columns": [f.to_dict() for f in versions[-1].schema.fields] if versions else [],
            }
        # A refused schema change is recorded even when the table was never created.
        info["events"] = [
            {"kind": e.kind, "at": e.at.isoformat(), "run_id": e.run_id, **e.payload}
            for e in catalog.list_events(spec.table)
        ]
        info["runs"] = [run_dict(r) for r in catalog.list_runs(name, limit=runs)]
        return info
    finally:
        catalog.close()


def plan_pipeline(project: Project, name: str) -> dict[str, Any]:
    """What ``hakiri run NAME`` would read now, without reading or writing anything."""
    from hakiri.core.clock import SystemClock
    from hakiri.runtime.host import LocalHost
    from hakiri.runtime.pipeline import resolve_pipeline

    secrets = project.secrets()
    resolved = resolve_pipeline(project, name, secrets)
    catalog = open_existing_catalog(project)
    try:
        cursor = catalog.get_cursor(name) if catalog else None
        state = CursorState.from_value(cursor.value if cursor else None)
        plan: dict[str, Any] = {
            "pipeline": name,
            "source": resolved.spec.source.connector,
            "table": resolved.table,
            "write": str(resolved.spec.destination.write),
            "cursor_version": cursor.version if cursor else 0,
            "position": state.position,
            "position_summary": position_summary(cursor.kind, state.position) if cursor else None,
        }
        if state.frontier is not None:
            plan["mode"] = "resume"
            plan["resumes_run"] = state.run_id
            plan["pages"] = [p.to_dict() for p in state.frontier]
            plan["description"] = (
                f"resume run {state.run_id}: {len(state.frontier)} page(s) left to read"
            )
            return plan
        # A source never writes to the catalog while planning; a project that has not run
        # yet gets an empty in-memory catalog rather than a new file on disk.
        host = LocalHost(
            project.root,
            project.store_root,
            secrets,
            SystemClock(),
            catalog or open_catalog("memory://"),
        )
        source = resolved.source.create(resolved.source_options, host)
        try:
            # As in a run: a replace sweep reads everything, whatever the cursor says.
            replacing = resolved.spec.destination.write is WriteDisposition.REPLACE
            planned = source.plan(None if replacing else state.position)
        finally:
            source.close()
        plan["mode"] = "incremental" if state.position is not None else "full"
        plan["pages"] = [p.to_dict() for p in planned.pages]
        plan["description"] = planned.description
        return plan
    finally:
        if catalog:
            catalog.close()
