"""A real MCP client session over stdio against a real ``hakiri mcp`` subprocess.

The project reads the demo API on 127.0.0.1; the session runs the pipeline through the
``pipeline.run`` tool itself, then reads what it wrote through the ``context.*`` and
``run.*`` tools. A second session checks the limits: a pipeline busy in another process, a
query past its timeout, and the statements and file reads a query may not make.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pyarrow as pa
import pyarrow.parquet as pq
from mcp import ClientSession, StdioServerParameters, stdio_client
from mcp.types import CallToolResult, TextContent

from hakiri.agent import TOOL_NAMES
from hakiri.testing.cli import hakiri_executable, spawn_hakiri
from hakiri.testing.demo_api import DemoApi
from hakiri.testing.project import write_manifest

_REFUSED = [
    "COPY issues TO '/tmp/hakiri-mcp-copy.csv'",
    "ATTACH '/tmp/hakiri-mcp-attached.db' AS other",
    "select * from read_csv('/etc/passwd')",
]


def _project(tmp_path: Path, api: DemoApi) -> Path:
    project = tmp_path / "project"
    write_manifest(
        project,
        f"""
[pipelines.issues.source]
connector = "http"
url = "{api.url}/issues"
params = {{ style = "link", per_page = 20 }}
pagination = {{ kind = "link_header" }}
""",
    )
    return project


async def _ok(session: ClientSession, name: str, **arguments: Any) -> dict[str, Any]:
    result = await session.call_tool(name, arguments)
    assert not result.is_error, f"{name} failed: {_text(result)}"
    assert result.structured_content is not None, f"{name} returned no structured content"
    return result.structured_content


def _text(result: CallToolResult) -> str:
    return "\n".join(c.text for c in result.content if isinstance(c, TextContent))


async def _error(session: ClientSession, name: str, **arguments: Any) -> str:
    result = await session.call_tool(name, arguments)
    assert result.is_error, f"{name} should have failed, returned {result.structured_content}"
    text = _text(result)
    assert text.startswith("error[") and "\n" not in text and "Traceback" not in text, text
    return text


async def _check_tools(session: ClientSession) -> None:
    tools = {t.name: t for t in (await session.list_tools()).tools}
    assert set(TOOL_NAMES) <= set(tools), set(TOOL_NAMES) - set(tools)
    for name in TOOL_NAMES:
        tool = tools[name]
        assert tool.description and tool.input_schema["type"] == "object", name
        assert tool.output_schema is not None, name
        assert tool.annotations is not None, name
        writes = name == "pipeline.run"
        assert tool.annotations.read_only_hint is (not writes), name
    run = tools["pipeline.run"].annotations
    assert run is not None
    assert run.destructive_hint is False and run.idempotent_hint is False
    query = tools["context.query"].input_schema["properties"]
    assert {"sql", "limit", "timeout"} <= set(query)


async def _session(project: Path, api: DemoApi) -> None:
    params = StdioServerParameters(command=hakiri_executable(), args=["mcp"], cwd=project)
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        await _check_tools(session)

        [pipeline] = (await _ok(session, "pipeline.list"))["pipelines"]
        assert pipeline["name"] == "issues" and pipeline["last_run"] is None
        connectors = (await _ok(session, "catalog.list_connectors"))["connectors"]
        http = next(c for c in connectors if c["name"] == "http")
        assert http["kind"] == "source" and "url" in http["options_schema"]["properties"]

        [stream] = (await _ok(session, "source.discover", pipeline="issues"))["streams"]
        assert "id" in {c["name"] for c in stream["columns"]}
        tables = (await _ok(session, "source.list_tables", pipeline="issues"))["tables"]
        assert [t["name"] for t in tables] == [stream["name"]]
        sample = await _ok(session, "source.sample_table", pipeline="issues", limit=3)
        ids = [row[sample["columns"].index("id")] for row in sample["rows"]]
        assert ids == [1, 2, 3]
        plan = await _ok(session, "pipeline.dry_run", pipeline="issues")
        assert plan["mode"] == "full" and plan["pages"]

        # Before any run there is no store: a clear error, not a crash.
        assert (await _error(session, "context.tables")).startswith("error[store_error]")

        summary = await _ok(session, "pipeline.run", pipeline="issues")
        assert summary["status"] == "succeeded", summary
        assert summary["rows"] == api.issue_count

        [table] = (await _ok(session, "context.tables"))["tables"]
        assert table["name"] == "issues" and table["pipeline"] == "issues"
        schema = await _ok(session, "context.schema", table="issues")
        assert {"id", "title"} <= {c["name"] for c in schema["columns"]}

        counted = await _ok(session, "context.query", sql="select count(*) as n from issues")
        assert counted["columns"] == ["n"] and counted["rows"] == [[api.issue_count]]
        limited = await _ok(session, "context.query", sql="select id from issues", limit=5)
        assert limited["row_count"] == 5 and limited["truncated"] is True
        for sql in _REFUSED:
            refused = await _error(session, "context.query", sql=sql)
            assert refused.startswith("error[query_refused]: "), refused
        assert not Path("/tmp/hakiri-mcp-copy.csv").exists()
        unknown = await _error(session, "context.schema", table="nope")
        assert unknown.startswith("error[unknown_table]") and " — tables: issues" in unknown

        [run] = (await _ok(session, "run.tail", pipeline="issues"))["runs"]
        assert run["run_id"] == summary["run_id"] and run["trigger"] == "mcp"
        assert run["status"] == "succeeded" and run["rows"] == api.issue_count
        trace = await _ok(session, "run.trace", run_id=summary["run_id"])
        assert trace["run"]["run_id"] == summary["run_id"]
        kinds = [s["kind"] for s in trace["steps"]]
        assert kinds[0] == "pull" and kinds[-1] == "commit", kinds
        assert (await _error(session, "run.trace", run_id="nope")).startswith("error[unknown_run]")
        described = await _ok(session, "pipeline.describe", pipeline="issues")
        assert described["table"]["rows"] == api.issue_count


def test_mcp_session_over_stdio(tmp_path: Path, demo_api: DemoApi) -> None:
    project = _project(tmp_path, demo_api)
    anyio.run(_bounded, project, demo_api)


async def _bounded(project: Path, api: DemoApi) -> None:
    # A hung server fails the test instead of hanging the suite.
    with anyio.fail_after(60):
        await _session(project, api)


# -- limits -----------------------------------------------------------------------------------

_HEAVY = "select count(*) from range(100000000000) t(i) where i % 7 = 3"
"""A query that would run for hours: only its timeout ends it."""


def _refused_reads(outside: Path) -> list[str]:
    """Statements the query gate or DuckDB's lockdown must refuse (beyond ``_REFUSED``);
    ``outside`` holds real files outside the store, so a refusal is not a missing file."""
    return [
        "create table copied as select * from issues",
        "insert into issues select * from issues",
        "delete from issues",
        "INSTALL httpfs",
        "LOAD httpfs",
        "SET enable_external_access = true",
        "select 1; drop view issues",
        f"COPY issues FROM '{outside / 'rows.csv'}'",
        f"select * from read_parquet('{outside / 'rows.parquet'}')",
        f"select * from '{outside / 'rows.parquet'}'",
        f"select * from read_csv('{outside / 'rows.csv'}')",
        f"select * from read_json_auto('{outside / 'rows.csv'}')",
        f"select * from glob('{outside}/*')",
    ]


def test_mcp_limits_busy_timeout_and_refusals(tmp_path: Path, demo_api: DemoApi) -> None:
    project = _project(tmp_path, demo_api)
    outside = tmp_path / "outside"
    outside.mkdir()
    pq.write_table(pa.table({"secret": [1, 2]}), outside / "rows.parquet")
    (outside / "rows.csv").write_text("secret\n1\n", encoding="utf-8")
    # A `hakiri run` in a terminal holds the pipeline: its third page is held back.
    demo_api.hold_page(3)
    proc = spawn_hakiri("run", "issues", cwd=project)
    try:
        assert demo_api.wait_held(30)
        anyio.run(_bounded_limits, project, demo_api, outside, proc.pid)
        _, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, err
    finally:
        demo_api.release()
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    assert sorted(p.name for p in outside.iterdir()) == ["rows.csv", "rows.parquet"]


async def _bounded_limits(project: Path, api: DemoApi, outside: Path, holder: int) -> None:
    with anyio.fail_after(60):
        await _limits(project, api, outside, holder)


async def _limits(project: Path, api: DemoApi, outside: Path, holder: int) -> None:
    params = StdioServerParameters(command=hakiri_executable(), args=["mcp"], cwd=project)
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()

        busy = await _error(session, "pipeline.run", pipeline="issues")
        assert busy.startswith("error[pipeline_busy]: pipeline 'issues' is already running"), busy
        assert f"(pid {holder})" in busy, busy
        # Let the terminal's run finish: the store then holds its rows.
        api.release()
        with anyio.fail_after(30):
            while await _statuses(session, "issues") != ["succeeded"]:
                await anyio.sleep(0.1)

        late = await _error(session, "context.query", sql=_HEAVY, timeout=0.5)
        assert late.startswith("error[query_timeout]: query stopped after 0.5 s"), late
        # The cancelled query left the server able to answer the next call at once.
        counted = await _ok(session, "context.query", sql="select count(*) from issues")
        assert counted["rows"] == [[api.issue_count]]

        for sql in _refused_reads(outside):
            refused = await _error(session, "context.query", sql=sql)
            assert refused.startswith("error[query_refused]: "), (sql, refused)
        counted = await _ok(session, "context.query", sql="select count(*) from issues")
        assert counted["rows"] == [[api.issue_count]]


async def _statuses(session: ClientSession, pipeline: str) -> list[str]:
    return [r["status"] for r in (await _ok(session, "run.tail", pipeline=pipeline))["runs"]]
