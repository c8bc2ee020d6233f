"""Every query is bounded — time, memory, SQL length, answer size — through the CLI, MCP and
the daemon, and the process that asked survives whatever the query did."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
import urllib.error
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import ClientSession, StdioServerParameters, stdio_client
from mcp.types import CallToolResult, TextContent

from hakiri.testing.cli import hakiri_executable, run_hakiri
from hakiri.testing.daemon import DaemonProcess
from hakiri.testing.project import write_manifest

_GiB = 1 << 30
_MiB = 1 << 20

BOMBS = [
    "select list_sum(range(400000000))",
    "select length(string_agg(repeat('x', 1000), ',')) from range(3000000)",
    "select count(distinct i::varchar || 'abcdefghijk') from range(60000000) t(i)",
]
SLOW = "select levenshtein(repeat('a', 40000), repeat('b', 40000)) as d"
HUGE_ANSWER = "select repeat('x', 1000000) as blob from range(200)"  # 200 MB
LONG_SQL = "select 1 -- " + "x" * (4 * _MiB)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("bounds") / "project"
    root.mkdir()
    (root / "issues.csv").write_text("id,state\n1,open\n2,closed\n", encoding="utf-8")
    write_manifest(root, '[pipelines.issues.source]\nconnector = "file"\npath = "issues.csv"\n')
    run_hakiri("run", "issues", cwd=root).check()
    return root


@pytest.fixture(scope="module")
def daemon(project: Path) -> Iterator[DaemonProcess]:
    with DaemonProcess(project, args=["--no-scheduler"]) as running:
        yield running


# -- the CLI --------------------------------------------------------------------------------


def _cli_with_peak(project: Path, *args: str, stdin: str | None = None) -> tuple[Any, int]:
    """Run ``hakiri ARGS`` from a wrapper that reports the peak RSS of every process the
    command ran (the CLI and its query process), in bytes."""
    wrapper = (
        "import resource, subprocess, sys\n"
        "r = subprocess.run(sys.argv[1:], capture_output=True, text=True, input=sys.stdin.read())\n"
        "sys.stdout.write(r.stdout[-2000:]); sys.stderr.write(r.stderr)\n"
        "print(f'\\nPEAK {resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}')\n"
        "sys.exit(r.returncode)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", wrapper, hakiri_executable(), *args],
        cwd=project,
        input=stdin or "",
        capture_output=True,
        text=True,
        timeout=300,
    )
    peak = int(done.stdout.rsplit("PEAK ", 1)[1]) * 1024
    return done, peak


@pytest.mark.parametrize("bomb", BOMBS)
def test_cli_memory_bombs_end_as_query_memory_under_the_bound(project: Path, bomb: str) -> None:
    done, peak = _cli_with_peak(project, "query", bomb)
    assert done.returncode != 0
    assert done.stderr.startswith("error[query_memory]: "), done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert peak <= _GiB, f"a process of the command reached {peak / _MiB:.0f} MiB"


def test_cli_timeout_stops_a_query_that_ignores_interrupts(project: Path) -> None:
    result = run_hakiri("query", "--timeout", "1", SLOW, cwd=project)
    assert result.returncode != 0
    assert result.stderr.startswith("error[query_timeout]: query stopped after 1 s"), result.stderr


def test_cli_answer_is_cut_at_the_byte_cap(project: Path) -> None:
    result = run_hakiri("query", "--format", "json", HUGE_ANSWER, cwd=project).check()
    answer = result.json()
    assert answer["truncated"] is True and answer["truncated_by"] == "bytes"
    assert 0 < len(answer["rows"]) < 200
    assert len(result.stdout) <= 17 * _MiB
    table = run_hakiri("query", HUGE_ANSWER, cwd=project).check()
    assert table.stdout.rstrip().endswith("(truncated at 16,777,216 bytes)")


def test_cli_refuses_long_sql_before_parsing(project: Path) -> None:
    done, peak = _cli_with_peak(project, "query", "-", stdin=LONG_SQL)
    assert done.returncode != 0
    assert done.stderr.startswith("error[query_too_long]: the SQL is 4,194,316 characters")
    assert peak < 300 * _MiB  # parsing 4 MB of SQL would have cost ~1.7 GiB


# -- MCP over stdio -------------------------------------------------------------------------


def _text(result: CallToolResult) -> str:
    return "\n".join(c.text for c in result.content if isinstance(c, TextContent))


def test_mcp_bounds_and_the_server_survives(project: Path) -> None:
    async def main() -> None:
        params = StdioServerParameters(command=hakiri_executable(), args=["mcp"], cwd=project)
        with anyio.fail_after(300):
            async with stdio_client(params) as (read, write), ClientSession(read, write) as s:
                await s.initialize()
                for bomb in BOMBS:
                    result = await s.call_tool("context.query", {"sql": bomb, "timeout": 60})
                    assert result.is_error and _text(result).startswith("error[query_memory]")
                # A bomb the watch killed is replaced on the next query: start it first, so
                # the bound below times the query alone.
                await s.call_tool("context.query", {"sql": "select 1"})
                await s.call_tool("context.query", {"sql": "select 1"})
                started = time.monotonic()
                slow = await s.call_tool("context.query", {"sql": SLOW, "timeout": 1})
                assert time.monotonic() - started < 2.0
                assert _text(slow).startswith("error[query_timeout]"), _text(slow)
                huge = await s.call_tool("context.query", {"sql": HUGE_ANSWER, "limit": 1000})
                assert not huge.is_error and huge.structured_content is not None
                assert huge.structured_content["truncated_by"] == "bytes"
                long = await s.call_tool("context.query", {"sql": LONG_SQL})
                assert _text(long).startswith("error[query_too_long]"), _text(long)[:200]
                ok = await s.call_tool("context.query", {"sql": "select count(*) from issues"})
                assert ok.structured_content is not None and ok.structured_content["rows"] == [[2]]

    anyio.run(main)


# -- the daemon -----------------------------------------------------------------------------


def _children(pid: int) -> list[int]:
    """``pid``'s child processes (each thread lists the children it started)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            found += [int(p) for p in (task / "children").read_text(encoding="ascii").split()]
        except OSError:
            continue
    return found


def _peak_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text(encoding="ascii").splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def test_daemon_bounds_and_the_daemon_survives(daemon: DaemonProcess) -> None:
    for bomb in BOMBS:
        answer = daemon.post("/v1/query", {"sql": bomb, "timeout": 60})
        assert answer.status == 400 and answer.json()["error"]["code"] == "query_memory", answer
    workers = _children(daemon.pid)
    assert workers, "the daemon runs its queries in child processes"
    for worker in workers:
        assert _peak_kib(worker) * 1024 <= _GiB
    assert daemon.rss_kib() * 1024 < 512 * _MiB
    for _ in range(2):  # both query processes up (one may have been replaced)
        assert daemon.post("/v1/query", {"sql": "select 1"}).status == 200
    started = time.monotonic()
    slow = daemon.post("/v1/query", {"sql": SLOW, "timeout": 1})
    assert time.monotonic() - started < 2.0
    assert slow.json()["error"]["code"] == "query_timeout"
    huge = daemon.post("/v1/query", {"sql": HUGE_ANSWER, "limit": 1000})
    assert huge.status == 200 and huge.json()["truncated_by"] == "bytes"
    assert len(huge.body) <= 17 * _MiB
    try:
        long = daemon.post("/v1/query", {"sql": LONG_SQL})
        assert long.status == 413, long
    except urllib.error.URLError as err:
        # The daemon answers 413 from Content-Length and closes before reading 4 MB.
        assert isinstance(err.reason, ConnectionResetError | BrokenPipeError), err
    assert daemon.get("/healthz").status == 200


def test_daemon_stays_responsive_under_fifty_heavy_queries(daemon: DaemonProcess) -> None:
    heavy = "select count(*) from range(100000000000) t(i) where i % 7 = 3"
    statuses: list[int] = []
    retry_after: list[str | None] = []

    def ask() -> None:
        answer = daemon.post("/v1/query", {"sql": heavy, "timeout": 4}, timeout=60)
        statuses.append(answer.status)
        if answer.status == 503:
            headers = {k.lower(): v for k, v in dict(answer.headers).items()}
            retry_after.append(headers.get("retry-after"))

    threads = [threading.Thread(target=ask) for _ in range(50)]
    for thread in threads:
        thread.start()
    latencies = []
    for _ in range(10):
        started = time.monotonic()
        health = daemon.get("/healthz", timeout=10)
        latencies.append(time.monotonic() - started)
        assert health.status == 200 and json.loads(health.body)["status"] == "ok"
        time.sleep(0.2)
    for thread in threads:
        thread.join(120)
    assert max(latencies) < 1.0, latencies
    assert len(statuses) == 50 and set(statuses) <= {400, 503}, statuses
    assert 503 in statuses and all(value == "1" for value in retry_after), retry_after
