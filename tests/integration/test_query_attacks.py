"""Attacks on the agent-safe SQL promise, through every surface that runs someone's SQL.

Each statement below tries to write, to read outside the committed files, to change the
connection, or to slip one of those past the statement gate (comments DuckDB reads
differently from a regular expression, EXPLAIN's prefixes, several statements, WITH). Each
goes through ``hakiri query``, MCP over stdio, MCP over HTTP and ``POST /v1/query``; each
must be refused with one ``error[…]`` line, and afterwards every byte of the store — the
catalog and every Parquet file — must be as it was.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import ClientSession, StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.types import CallToolResult, TextContent

from hakiri.testing.cli import hakiri_executable, run_hakiri
from hakiri.testing.daemon import DaemonProcess
from hakiri.testing.project import write_manifest

_WAIT = 120

# Comments and spaces DuckDB's scanner skips; the old gate's regular expression did not
# read the first three the same way.
_FILLERS = ["/* ) */", "/* /* nested */ ) */", "--x\r", "-- )\n", "\t\n"]

# {file}: a committed Parquet file of the store; {context}: its data directory;
# {store}: the store directory (catalog.db lives there); {stray}: a file in context/ that
# the catalog does not list.
ATTACKS: list[str] = [
    # COPY into the store, by path and blind (the target computed from a setting).
    "COPY (SELECT 666 AS id) TO '{file}' (FORMAT parquet)",
    "COPY issues TO '{context}/issues/extra.parquet' (FORMAT parquet)",
    "COPY (SELECT 1) TO (current_setting('allowed_paths')[1])",
    # EXPLAIN ANALYZE runs what it explains: every spelling, every comment trick.
    *[
        f"EXPLAIN {filler} ANALYZE {filler} COPY (SELECT 666 AS id) TO '{{file}}' (FORMAT parquet)"
        for filler in _FILLERS
    ],
    "EXPLAIN (ANALYZE) COPY (SELECT 1) TO (current_setting('allowed_paths')[1])",
    "EXPLAIN (FORMAT json, /* ) */ ANALYZE) COPY (SELECT 1) TO '{file}'",
    "explain analyse select count(*) from issues",
    "EXPLAIN COPY (SELECT 1) TO '{file}'",
    "EXPLAIN /* ) */ CREATE TABLE t AS SELECT 1",
    # Several statements, the harmful one second (or hidden after a comment).
    "SELECT 1; COPY (SELECT 1) TO '{file}'",
    "SELECT 1 --\r; COPY (SELECT 1) TO '{file}'",
    "SELECT 1 /* ; */ ; ATTACH '{store}/catalog.db' AS c",
    # WITH that writes, or that hides a write.
    "WITH x AS (INSERT INTO issues VALUES (1, 'x') RETURNING *) SELECT * FROM x",
    "WITH x AS (DELETE FROM issues RETURNING *) SELECT count(*) FROM x",
    # Every path vector of the table functions, outside and inside the store.
    "SELECT * FROM read_csv('/etc/passwd')",
    "SELECT * FROM read_csv_auto('/etc/passwd')",
    "SELECT * FROM read_text('/etc/hostname')",
    "SELECT * FROM read_blob('{store}/catalog.db')",
    "SELECT * FROM read_json('/etc/hostname')",
    "SELECT * FROM read_json_auto('/etc/hostname')",
    "SELECT * FROM read_ndjson('/etc/hostname')",
    "SELECT * FROM sniff_csv('/etc/passwd')",
    "SELECT * FROM glob('/etc/*')",
    "SELECT * FROM glob('{context}/**')",
    "SELECT * FROM read_parquet('{stray}')",
    "SELECT * FROM read_parquet('{context}/issues/*.parquet')",
    "SELECT * FROM parquet_metadata('{stray}')",
    "SELECT * FROM parquet_schema('{stray}')",
    "SELECT * FROM parquet_file_metadata('{stray}')",
    "SELECT * FROM parquet_kv_metadata('{stray}')",
    "SELECT * FROM '/etc/passwd'",
    "SELECT * FROM '{stray}'",
    "SELECT * FROM read_csv('https://example.com/x.csv')",
    # Extensions.
    "INSTALL httpfs",
    "FORCE INSTALL httpfs",
    "LOAD httpfs",
    "LOAD '{store}/evil.duckdb_extension'",
    # Settings, pragmas, logging (which aborted a process when file access was off).
    "SET enable_external_access = true",
    "SET GLOBAL allowed_paths = ['/']",
    "RESET lock_configuration",
    "PRAGMA enable_profiling",
    "CALL enable_logging(storage = 'file', storage_path = '{context}/log')",
    # The database itself.
    "ATTACH '{store}/catalog.db' AS c (TYPE sqlite)",
    "ATTACH '{context}/new.duckdb' AS n",
    "CREATE OR REPLACE VIEW issues AS SELECT 666 AS id",
    "DROP VIEW issues",
    "CREATE TABLE t AS SELECT * FROM issues",
    "CREATE SECRET s (TYPE s3, KEY_ID 'k', SECRET 'v')",
    "CREATE MACRO m() AS 1",
    "EXPORT DATABASE '{context}/dump'",
    "IMPORT DATABASE '{context}'",
    "CHECKPOINT",
    "VACUUM",
    "DETACH memory",
    "USE system",
]


def _byte_fingerprint(store: Path) -> str:
    """A digest of every file's name and bytes under ``store``.

    ``-shm`` files are SQLite's shared-memory index of a WAL (locks and read marks a reader
    may touch), not data; everything else — the catalog included — must not change.
    """
    digest = hashlib.sha256()
    for path in sorted(store.rglob("*")):
        if path.is_file() and not path.name.endswith("-shm"):
            digest.update(str(path.relative_to(store)).encode() + b"\0")
            digest.update(path.read_bytes())
    return digest.hexdigest()


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("attacks") / "project"
    root.mkdir()
    (root / "issues.csv").write_text("id,state\n1,open\n2,closed\n3,open\n", encoding="utf-8")
    write_manifest(
        root,
        """
[pipelines.issues.source]
connector = "file"
path = "issues.csv"
""",
    )
    run_hakiri("run", "issues", cwd=root).check()
    # A file in context/ that the catalog does not list (as a crashed run leaves one).
    committed = next((root / ".hakiri" / "context" / "issues").glob("*.parquet"))
    (committed.parent / "stray.parquet").write_bytes(committed.read_bytes())
    return root


def _attacks(project: Path) -> list[str]:
    store = project / ".hakiri"
    context = store / "context"
    committed = sorted(
        p for p in (context / "issues").glob("*.parquet") if p.name != "stray.parquet"
    )
    names = {
        "file": str(committed[0]),
        "context": str(context),
        "store": str(store),
        "stray": str(context / "issues" / "stray.parquet"),
    }
    return [attack.format(**names) for attack in ATTACKS]


def _check_line(line: str, sql: str) -> None:
    assert line.startswith("error[query_") or line.startswith("error[unknown_name]"), (sql, line)
    assert "\n" not in line.strip() and "Traceback" not in line, (sql, line)


@pytest.fixture(scope="module")
def daemon(project: Path) -> Iterator[DaemonProcess]:
    with DaemonProcess(project, args=["--no-scheduler"]) as running:
        yield running


def _unchanged(project: Path, before: str) -> None:
    assert _byte_fingerprint(project / ".hakiri") == before
    # And the table still reads as committed.
    result = run_hakiri(
        "query", "select count(*) as n from issues", "--format", "json", cwd=project
    )
    assert result.check().json()["rows"] == [[3]]


def test_attacks_through_the_cli_change_nothing(project: Path) -> None:
    before = _byte_fingerprint(project / ".hakiri")
    for sql in _attacks(project):
        result = run_hakiri("query", sql, cwd=project)
        assert result.returncode != 0, (sql, result.stdout)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, (sql, result.stderr)
        _check_line(lines[0], sql)
    _unchanged(project, before)


def _text(result: CallToolResult) -> str:
    return "\n".join(c.text for c in result.content if isinstance(c, TextContent))


async def _attack_session(session: ClientSession, attacks: list[str]) -> None:
    await session.initialize()
    for sql in attacks:
        result = await session.call_tool("context.query", {"sql": sql})
        assert result.is_error, (sql, result.structured_content)
        _check_line(_text(result), sql)
    still = await session.call_tool("context.query", {"sql": "select count(*) from issues"})
    assert not still.is_error and still.structured_content is not None
    assert still.structured_content["rows"] == [[3]]


def test_attacks_through_mcp_over_stdio_change_nothing(project: Path) -> None:
    before = _byte_fingerprint(project / ".hakiri")

    async def main() -> None:
        params = StdioServerParameters(command=hakiri_executable(), args=["mcp"], cwd=project)
        with anyio.fail_after(_WAIT):
            async with stdio_client(params) as (read, write), ClientSession(read, write) as s:
                await _attack_session(s, _attacks(project))

    anyio.run(main)
    _unchanged(project, before)


def test_attacks_through_mcp_over_http_change_nothing(project: Path, daemon: DaemonProcess) -> None:
    before = _byte_fingerprint(project / ".hakiri")

    async def main() -> None:
        with anyio.fail_after(_WAIT):
            async with (
                streamable_http_client(f"{daemon.url}/mcp") as (read, write),
                ClientSession(read, write) as session,
            ):
                await _attack_session(session, _attacks(project))

    anyio.run(main)
    _unchanged(project, before)


def test_attacks_through_the_http_api_change_nothing(project: Path, daemon: DaemonProcess) -> None:
    before = _byte_fingerprint(project / ".hakiri")
    for sql in _attacks(project):
        answer = daemon.post("/v1/query", {"sql": sql})
        assert 400 <= answer.status < 500, (sql, answer)
        error: dict[str, Any] = answer.json()["error"]
        _check_line(f"error[{error['code']}]: {error['message']}", sql)
    ok = daemon.post("/v1/query", {"sql": "select count(*) as n from issues"})
    assert ok.status == 200 and ok.json()["rows"] == [[3]], ok
    _unchanged(project, before)
    assert json.loads(daemon.get("/healthz").body)["status"] == "ok"
