"""The agent's read-only tools read the catalog read-only: the store stays byte for byte.

A real ``hakiri mcp`` subprocess serves a project whose catalog an older Hakiri wrote
(``tables.schema_policy`` not there yet). ``run.tail``, ``run.trace``, ``pipeline.list``,
``pipeline.describe`` and ``pipeline.dry_run`` each answer from it, and after each call the
store's files — names and bytes, the SQLite ``-wal`` / ``-shm`` included — are exactly as
before: no migration, no journal files left behind.
"""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path
from typing import Any

import anyio
from mcp import ClientSession, StdioServerParameters, stdio_client

from hakiri.testing.cli import hakiri_executable, run_hakiri
from hakiri.testing.demo_api import DemoApi
from hakiri.testing.project import write_manifest


def _files(store: Path) -> dict[str, str]:
    """Every file of the store (locks included), by relative path, with its digest."""
    return {
        str(p.relative_to(store)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(store.rglob("*"))
        if p.is_file()
    }


def _older_project(tmp_path: Path, api: DemoApi) -> Path:
    project = tmp_path / "project"
    write_manifest(
        project,
        f"""[pipelines.issues.source]
connector = "http"
url = "{api.url}/issues"
params = {{ style = "link", per_page = 50 }}
pagination = {{ kind = "link_header" }}
""",
    )
    run_hakiri("run", "issues", cwd=project).check()
    con = sqlite3.connect(project / ".hakiri" / "catalog.db")
    con.execute("ALTER TABLE tables DROP COLUMN schema_policy")
    con.commit()
    con.close()
    return project


async def _calls(project: Path, store: Path, before: dict[str, str]) -> list[str]:
    params = StdioServerParameters(command=hakiri_executable(), args=["mcp"], cwd=project)
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        called: list[str] = []

        async def call(name: str, **arguments: Any) -> dict[str, Any]:
            result = await session.call_tool(name, arguments)
            assert not result.is_error, (name, result.content)
            assert result.structured_content is not None
            assert _files(store) == before, f"{name} changed the store"
            called.append(name)
            return result.structured_content

        [run] = (await call("run.tail", limit=5))["runs"]
        assert run["status"] == "succeeded" and run["rows"] == 100
        trace = await call("run.trace", run_id=run["run_id"])
        assert trace["run"]["run_id"] == run["run_id"] and trace["steps"]
        [listed] = (await call("pipeline.list"))["pipelines"]
        assert listed["last_run"]["run_id"] == run["run_id"]
        described = await call("pipeline.describe", pipeline="issues")
        assert described["table"]["rows"] == 100
        assert described["table"]["schema_policy"] == "evolve"  # the older catalog's default
        plan = await call("pipeline.dry_run", pipeline="issues")
        assert plan["mode"] == "full" and plan["pages"]
        return called


def test_read_only_tools_leave_an_older_catalog_byte_identical(
    tmp_path: Path,
    demo_api: DemoApi,
) -> None:
    project = _older_project(tmp_path, demo_api)
    store = project / ".hakiri"
    before = _files(store)
    assert "catalog.db-wal" not in before and "catalog.db-shm" not in before
    called = anyio.run(_calls, project, store, before)
    assert called == [
        "run.tail",
        "run.trace",
        "pipeline.list",
        "pipeline.describe",
        "pipeline.dry_run",
    ]
    assert _files(store) == before
    con = sqlite3.connect(f"file:{store / 'catalog.db'}?mode=ro", uri=True)
    try:
        columns = {row[1] for row in con.execute("PRAGMA table_info(tables)")}
    finally:
        con.close()
    assert "schema_policy" not in columns
