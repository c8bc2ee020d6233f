"""The operating eval: a daemon serving three pipelines, and an agent that answers a question.

One project reads three real sources on 127.0.0.1 — GitHub issues from the local
GitHub-compatible API (created over the last days, some just before and just after
midnight UTC), the demo API over ``http``, and CSV files with ``file`` (on a short
``schedule``). ``hakiri serve`` runs them: two through ``POST /v1/pipelines/{name}/runs``,
the third when its schedule fires. Then a real MCP client — once over streamable HTTP at
``/mcp``, once over stdio against ``hakiri mcp`` — does what an agent would: list the tools,
find the tables, read the issues table's schema to learn which column holds the creation
time and its type, and ask with SQL how many issues were created yesterday (UTC). The
answer must be what the source itself holds. ``POST /v1/query`` answers the same.

A second case starts the daemon with a bearer token: the MCP session works with
``Authorization: Bearer …`` and gets 401 without it.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as day_time
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from mcp import ClientSession, MCPError, StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.types import CallToolResult, TextContent

from hakiri.testing.cli import hakiri_executable
from hakiri.testing.daemon import DaemonProcess
from hakiri.testing.demo_api import DemoApi
from hakiri.testing.github_api import GithubApi
from hakiri.testing.project import write_manifest

# The 13 documented tools; only pipeline.run writes.
TOOLS = {
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
}
REPOS = ("octo/hello", "octo/world")
TOKEN = "eval-token-0123456789abcdef"
SESSION_TIMEOUT = 60.0  # a hung server fails the test instead of hanging the suite

# Creation times (UTC, hh:mm:ss) of the seeded issues, by days before today. Counts vary,
# one day is quiet, and the edges of "yesterday" are populated on both sides.
_CREATED = {
    5: ["09:15:00", "17:40:00"],
    4: ["00:00:00", "12:00:00", "23:59:59"],
    3: [],
    2: ["08:00:00", "14:30:00", "20:00:00", "23:59:59"],
    1: ["00:00:00", "06:45:00", "13:00:00", "23:30:00", "23:59:59"],
    0: ["00:00:00", "00:00:01", "00:05:00"],
}


@dataclass(frozen=True)
class Expected:
    """What the sources hold, counted from the sources themselves."""

    yesterday: date
    issues_yesterday: int
    issues: int
    demo_rows: int
    order_rows: int


# -- the project ---------------------------------------------------------------------------


def _seed_github(api: GithubApi, now: datetime) -> date:
    """Issues across both repositories over six days, plus a pull request created yesterday
    (GitHub's issues endpoint lists it too; the ``issues`` resource leaves it out). Returns
    yesterday."""
    today = now.date()
    for repo in REPOS:
        api.add_repo(repo)
    n = 0
    for days_back, times in sorted(_CREATED.items(), reverse=True):
        day = today - timedelta(days=days_back)
        for hms in times:
            created = min(datetime.combine(day, day_time.fromisoformat(hms), UTC), now)
            # Some are edited a day later: a question about creation must not read updated_at.
            updated = min(created + timedelta(days=1 if n % 3 == 0 else 0), now)
            api.add_issue(REPOS[n % 2], f"Issue {n}", created_at=created, updated_at=updated)
            n += 1
    yesterday = today - timedelta(days=1)
    noon = datetime.combine(yesterday, day_time(12), UTC)
    api.add_pull(REPOS[0], "A pull request, not an issue", created_at=noon)
    return yesterday


def _issues_in_source(api: GithubApi) -> list[dict[str, Any]]:
    """Every issue the API lists (pull requests left out), read from the API itself."""
    issues: list[dict[str, Any]] = []
    for repo in REPOS:
        url = f"{api.url}/repos/{repo}/issues?state=all&per_page=100"
        with urllib.request.urlopen(url, timeout=10) as resp:
            items = json.loads(resp.read())
        assert len(items) < 100, "one page is meant to hold the whole repository"
        issues += [item for item in items if "pull_request" not in item]
    return issues


def _write_orders(project: Path) -> int:
    data = project / "data"
    data.mkdir(parents=True)
    (data / "orders_1.csv").write_text(
        "order_id,day,customer,amount\n1,2026-01-01,alice,10.50\n2,2026-01-02,bob,3.25\n"
    )
    (data / "orders_2.csv").write_text(
        "order_id,day,customer,amount\n3,2026-01-03,carol,7.00\n4,2026-01-04,dave,1.75\n"
        "5,2026-01-04,erin,9.99\n"
    )
    return 5


def _project(tmp_path: Path, github: GithubApi, demo: DemoApi) -> tuple[Path, Expected]:
    project = tmp_path / "project"
    now = datetime.now(UTC).replace(microsecond=0)
    yesterday = _seed_github(github, now)
    orders = _write_orders(project)
    write_manifest(
        project,
        f"""
[pipelines.issues]
description = "GitHub issues of octo/hello and octo/world"
schedule = "every 1h"

[pipelines.issues.source]
connector = "github"
repos = {json.dumps(list(REPOS))}
resource = "issues"
base_url = "{github.url}"
per_page = 4

[pipelines.issues.destination]
write = "merge"
primary_key = ["id"]

[pipelines.demo_issues.source]
connector = "http"
url = "{demo.url}/issues"
params = {{ style = "link", per_page = 20 }}
pagination = {{ kind = "link_header" }}

[pipelines.orders]
schedule = "every 2s"

[pipelines.orders.source]
connector = "file"
path = "data/orders_*.csv"

[pipelines.orders.destination]
write = "merge"
primary_key = ["order_id"]
""",
        name="operating_eval",
    )
    issues = _issues_in_source(github)
    in_yesterday = [i for i in issues if _utc(i["created_at"]).date() == yesterday]
    expected = Expected(yesterday, len(in_yesterday), len(issues), demo.issue_count, orders)
    # The boundaries are seeded on purpose; a count equal to a neighbour's would prove less.
    assert expected.issues_yesterday == len(_CREATED[1]), in_yesterday
    return project, expected


def _utc(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).astimezone(UTC)


# -- the question, in SQL ------------------------------------------------------------------


def _created_column(columns: list[dict[str, Any]]) -> dict[str, Any]:
    """The column holding an issue's creation time, found in the schema the tool returned."""
    found = [c for c in columns if "created" in c["name"]]
    assert len(found) == 1, f"no single creation-time column in {columns}"
    return found[0]


def _yesterday_sql(table: str, column: dict[str, Any], day: date) -> str:
    """Count rows created on ``day`` (UTC) — by ranges, so the session's time zone cannot
    move the edges. ISO 8601 text in UTC (GitHub's ``…Z``) compares as it sorts."""
    name, kind = column["name"], column["type"]
    start, end = day.isoformat(), (day + timedelta(days=1)).isoformat()
    if "string" in kind:
        low, high = f"'{start}T00:00:00Z'", f"'{end}T00:00:00Z'"
    elif kind.startswith("timestamp") and "tz=" in kind:
        low, high = f"TIMESTAMPTZ '{start} 00:00:00+00'", f"TIMESTAMPTZ '{end} 00:00:00+00'"
    elif kind.startswith("timestamp"):
        low, high = f"TIMESTAMP '{start} 00:00:00'", f"TIMESTAMP '{end} 00:00:00'"
    else:
        raise AssertionError(f"a creation time of type {kind!r} is not what the docs promise")
    return f'select count(*) as n from "{table}" where "{name}" >= {low} and "{name}" < {high}'


# -- an MCP session over either transport --------------------------------------------------


@asynccontextmanager
async def _http_session(
    url: str, token: str | None = None, statuses: list[int] | None = None
) -> AsyncIterator[ClientSession]:
    """A session with the daemon's ``/mcp``; ``statuses`` collects every HTTP status."""
    headers = {"Authorization": f"Bearer {token}"} if token else None

    async def note(response: httpx2.Response) -> None:
        if statuses is not None:
            statuses.append(response.status_code)

    async with (
        httpx2.AsyncClient(
            headers=headers, timeout=httpx2.Timeout(30.0), event_hooks={"response": [note]}
        ) as client,
        streamable_http_client(f"{url}/mcp", http_client=client) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        yield session


@asynccontextmanager
async def _stdio_session(project: Path) -> AsyncIterator[ClientSession]:
    params = StdioServerParameters(
        command=hakiri_executable(), args=["mcp", "-p", str(project)], cwd=project.parent
    )
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        yield session


async def _ok(session: ClientSession, name: str, **arguments: Any) -> dict[str, Any]:
    result = await session.call_tool(name, arguments)
    assert not result.is_error, f"{name} failed: {_text(result)}"
    assert result.structured_content is not None, f"{name} returned no structured content"
    return result.structured_content


def _text(result: CallToolResult) -> str:
    return "\n".join(c.text for c in result.content if isinstance(c, TextContent))


async def _check_tools(session: ClientSession) -> None:
    tools = {t.name: t for t in (await session.list_tools()).tools}
    assert TOOLS <= set(tools), TOOLS - set(tools)
    for name in TOOLS:
        annotations = tools[name].annotations
        assert annotations is not None, name
        assert annotations.read_only_hint is (name != "pipeline.run"), name


async def _ask(session: ClientSession, expected: Expected, api_runs: dict[str, str]) -> None:
    """What an agent does: tools, tables, the schema, the question; then the pipelines and
    their runs."""
    await _check_tools(session)

    tables = {t["name"]: t for t in (await _ok(session, "context.tables"))["tables"]}
    assert set(tables) == {"issues", "demo_issues", "orders"}, tables
    assert tables["issues"]["pipeline"] == "issues"
    assert tables["issues"]["primary_key"] == ["id"]

    schema = await _ok(session, "context.schema", table="issues")
    assert schema["table"] == "issues"
    column = _created_column(schema["columns"])
    assert {"id", "number", "repository", "updated_at"} <= {c["name"] for c in schema["columns"]}

    sql = _yesterday_sql("issues", column, expected.yesterday)
    answer = await _ok(session, "context.query", sql=sql)
    assert answer["columns"] == ["n"] and answer["rows"] == [[expected.issues_yesterday]], sql
    total = await _ok(session, "context.query", sql="select count(*) from issues")
    assert total["rows"] == [[expected.issues]]

    pipelines = {p["name"]: p for p in (await _ok(session, "pipeline.list"))["pipelines"]}
    assert set(pipelines) == {"issues", "demo_issues", "orders"}
    for name in ("issues", "demo_issues"):
        last = pipelines[name]["last_run"]
        assert last["run_id"] == api_runs[name] and last["status"] == "succeeded", last
        assert last["trigger"] == "api"
    assert pipelines["issues"]["source"] == "github"
    assert pipelines["demo_issues"]["source"] == "http"
    assert pipelines["orders"]["source"] == "file"
    assert pipelines["orders"]["schedule"] == "every 2s"
    # The schedule keeps firing while the session runs: the latest may still be going.
    orders_last = pipelines["orders"]["last_run"]
    assert orders_last["trigger"] == "schedule" and orders_last["status"] in (
        "running",
        "succeeded",
    ), orders_last

    runs = (await _ok(session, "run.tail", limit=200))["runs"]
    by_id = {r["run_id"]: r for r in runs}
    for name, run_id in api_runs.items():
        assert by_id[run_id]["pipeline"] == name and by_id[run_id]["status"] == "succeeded"
    scheduled = [r for r in runs if r["pipeline"] == "orders" and r["trigger"] == "schedule"]
    assert any(r["status"] == "succeeded" for r in scheduled), scheduled
    [issues_run] = (await _ok(session, "run.tail", pipeline="issues"))["runs"]
    assert issues_run["rows"] == expected.issues and issues_run["pages"] >= 2, issues_run


async def _bounded(session: Callable[[], Awaitable[None]]) -> None:
    with anyio.fail_after(SESSION_TIMEOUT):
        await session()


# -- the daemon's side ---------------------------------------------------------------------


def _run_through_daemon(daemon: DaemonProcess, pipeline: str) -> dict[str, Any]:
    started = daemon.post(f"/v1/pipelines/{pipeline}/runs")
    assert started.status == 202, started
    run = daemon.wait_run(started.json()["run_id"], timeout=60)
    assert run["status"] == "succeeded", (run, daemon.log())
    return run


def _wait_scheduled_run(daemon: DaemonProcess, pipeline: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        answer = daemon.get(f"/v1/runs?pipeline={pipeline}&limit=20")
        assert answer.status == 200, answer
        runs = answer.json()["runs"]
        if any(r["trigger"] == "schedule" and r["status"] == "succeeded" for r in runs):
            return
        time.sleep(0.2)
    raise AssertionError(f"the schedule of {pipeline} did not run it:\n{daemon.log()}")


def test_agent_answers_from_the_daemons_store(
    tmp_path: Path,
    github_api: GithubApi,
    demo_api: DemoApi,
) -> None:
    project, expected = _project(tmp_path, github_api, demo_api)
    with DaemonProcess(project) as daemon:
        issues = _run_through_daemon(daemon, "issues")
        assert issues["rows"] == expected.issues
        demo = _run_through_daemon(daemon, "demo_issues")
        assert demo["rows"] == expected.demo_rows
        _wait_scheduled_run(daemon, "orders")
        api_runs = {"issues": issues["run_id"], "demo_issues": demo["run_id"]}

        # The same question over plain HTTP, with the schema from the HTTP API.
        schema = daemon.get("/v1/tables/issues/schema")
        assert schema.status == 200, schema
        column = _created_column(schema.json()["columns"])
        sql = _yesterday_sql("issues", column, expected.yesterday)
        answer = daemon.post("/v1/query", {"sql": sql, "limit": 10})
        assert answer.status == 200, answer
        assert answer.json()["rows"] == [[expected.issues_yesterday]]
        orders = daemon.post("/v1/query", {"sql": "select count(*) from orders"})
        assert orders.json()["rows"] == [[expected.order_rows]]

        async def over_http() -> None:
            async with _http_session(daemon.url) as session:
                await _ask(session, expected, api_runs)

        async def over_stdio() -> None:
            async with _stdio_session(project) as session:
                await _ask(session, expected, api_runs)

        anyio.run(_bounded, over_http)
        anyio.run(_bounded, over_stdio)

        assert daemon.stop() == 0, daemon.log()


# -- with a token --------------------------------------------------------------------------


def _raw_initialize(url: str, authorization: str | None = None) -> tuple[int, dict[str, Any]]:
    """A raw MCP ``initialize`` POST, with ``authorization`` as its header if given."""
    message = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "eval", "version": "0"},
        },
    }
    request = urllib.request.Request(
        f"{url}/mcp",
        data=json.dumps(message).encode(),
        method="POST",
        headers={
            "Content-Type": "application/json",
            "Accept": "application/json, text/event-stream",
            **({"Authorization": authorization} if authorization else {}),
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return resp.status, json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"{}")


def test_http_mcp_needs_the_bearer_token(tmp_path: Path) -> None:
    project = tmp_path / "project"
    orders = _write_orders(project)
    write_manifest(
        project,
        """
[pipelines.orders.source]
connector = "file"
path = "data/orders_*.csv"
""",
    )
    with DaemonProcess(project, token=TOKEN) as daemon:
        run = _run_through_daemon(daemon, "orders")
        assert run["rows"] == orders

        async def with_token() -> None:
            async with _http_session(daemon.url, token=TOKEN) as session:
                await _check_tools(session)
                counted = await _ok(session, "context.query", sql="select count(*) from orders")
                assert counted["rows"] == [[orders]]

        anyio.run(_bounded, with_token)

        for authorization in (None, "Bearer not-the-token-at-all", TOKEN):
            status, body = _raw_initialize(daemon.url, authorization)
            assert status == 401 and body["error"]["code"] == "unauthorized", body

        # The SDK's own client, without the header: its initialize is answered 401 and the
        # session never opens.
        statuses: list[int] = []

        async def without_token() -> None:
            async with _http_session(daemon.url, statuses=statuses) as session:
                await session.list_tools()

        with pytest.raises(ExceptionGroup) as refused:
            anyio.run(_bounded, without_token)
        assert refused.group_contains(MCPError), refused.value
        assert statuses == [401], statuses

        assert daemon.stop() == 0, daemon.log()
