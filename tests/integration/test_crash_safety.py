"""Crash safety of the run protocol, proven with real processes killed by SIGKILL.

A pipeline reads 95 issues in pages of 10 and commits every 20 rows (every two pages). The
run is killed at one point of the protocol; then the catalog must be consistent, the dead
run must read ``partial_failure``, the next run must resume from the last committed cursor
reading only the pages that were not committed, and the table must hold exactly the
source's rows — none lost, none twice — with no uncommitted file left in the store.
"""

from __future__ import annotations

import hashlib
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from hakiri.context.catalog.sqlite import open_sqlite_catalog
from hakiri.testing.cli import run_hakiri, spawn_hakiri
from hakiri.testing.demo_api import DemoApi
from hakiri.testing.project import issues_pipeline, write_manifest

ISSUES = 95
PER_PAGE = 10
PAGES = 10


@pytest.fixture
def api() -> Iterator[DemoApi]:
    with DemoApi(issues=ISSUES) as server:
        yield server


def _project(tmp_path: Path, api: DemoApi, *, incremental: bool = False) -> Path:
    write_manifest(tmp_path, issues_pipeline(api.url, per_page=PER_PAGE, incremental=incremental))
    return tmp_path


def _pages_requested(api: DemoApi) -> list[int]:
    return [int(r.param("page") or 1) for r in api.requests_to("/issues")]


def _assert_consistent(project: Path) -> int:
    """Every committed file exists with its checksum; no other data file is visible.

    Returns the number of rows the catalog says are committed.
    """
    store = project / ".hakiri"
    catalog = open_sqlite_catalog(f"sqlite:///{store / 'catalog.db'}")
    try:
        files = catalog.list_files("issues") if catalog.get_table("issues") else []
        for record in files:
            data = (store / record.path).read_bytes()
            assert f"sha256:{hashlib.sha256(data).hexdigest()}" == record.checksum
        cursor = catalog.get_cursor("issues")
        assert (cursor is None) == (not files)
        return sum(f.rows for f in files)
    finally:
        catalog.close()


def _data_files(project: Path) -> set[str]:
    root = project / ".hakiri"
    return {str(p.relative_to(root)) for p in (root / "context").rglob("*.parquet*")}


def _referenced(project: Path) -> set[str]:
    catalog = open_sqlite_catalog(f"sqlite:///{project / '.hakiri' / 'catalog.db'}")
    try:
        return catalog.referenced_paths("issues")
    finally:
        catalog.close()


def _finish_and_check(project: Path, api: DemoApi, committed_rows: int) -> None:
    api.clear_requests()
    rerun = run_hakiri("run", "issues", "--json", cwd=project).check().json()
    assert rerun["status"] == "succeeded"
    assert len(rerun["interrupted_runs"]) == 1
    # Resumed from the last committed cursor: only the pages that were not committed.
    committed_pages = committed_rows // PER_PAGE
    assert _pages_requested(api) == list(range(committed_pages + 1, PAGES + 1))
    assert rerun["rows"] == ISSUES - committed_rows

    described = run_hakiri("pipeline", "describe", "issues", "--json", cwd=project).check().json()
    statuses = [run["status"] for run in described["runs"]]
    assert statuses == ["succeeded", "partial_failure"]
    assert described["runs"][1]["error"]["code"] == "interrupted"

    counts = run_hakiri(
        "query", "select count(*), count(distinct id) from issues", "--format", "json", cwd=project
    ).check()
    assert counts.json()["rows"] == [[ISSUES, ISSUES]]
    assert _assert_consistent(project) == ISSUES
    # No staged-but-uncommitted file survives the re-run.
    assert _data_files(project) == _referenced(project)


@pytest.mark.parametrize(
    ("failpoint", "committed_rows"),
    [
        ("pull:4", 20),  # about to fetch page 4: pages 1-2 committed, page 3 only in memory
        ("after_stage:2", 20),  # chunk 2 written to the store, not yet committed
        ("before_commit:3", 40),  # chunk 3 staged and its pull step recorded
        ("inside_commit:2", 20),  # inside the catalog transaction of chunk 2
        ("after_commit:3", 60),  # chunk 3 committed, the process dies right after
    ],
)
def test_sigkill_at_failpoint(
    tmp_path: Path, api: DemoApi, failpoint: str, committed_rows: int
) -> None:
    project = _project(tmp_path, api)
    crashed = run_hakiri("run", "issues", cwd=project, env={"HAKIRI_FAILPOINTS": failpoint})
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr

    assert _assert_consistent(project) == committed_rows
    if failpoint.startswith(("after_stage", "before_commit")):
        assert _data_files(project) - _referenced(project), "the staged file is on disk"
    described = run_hakiri("pipeline", "describe", "issues", "--json", cwd=project).check().json()
    assert [run["status"] for run in described["runs"]] == ["running"]

    _finish_and_check(project, api, committed_rows)


def _wait_committed(project: Path, rows: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (project / ".hakiri" / "catalog.db").exists() and _assert_consistent(project) >= rows:
            return
        time.sleep(0.05)
    raise AssertionError(f"{rows} rows were never committed")


def test_sigkill_while_a_page_is_in_flight(tmp_path: Path, api: DemoApi) -> None:
    project = _project(tmp_path, api)
    api.hold_page(7)  # page 7's response hangs: the run is stuck pulling it
    proc = spawn_hakiri("run", "issues", cwd=project)
    try:
        assert api.wait_held(timeout=60), "the run never reached page 7"
        # Pages are read ahead of the commits: wait until pages 1-6 are committed, so the
        # process dies with exactly one page in flight.
        _wait_committed(project, 60)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.communicate()
        api.release()
    assert proc.returncode == -signal.SIGKILL
    assert _assert_consistent(project) == 60
    _finish_and_check(project, api, 60)


def test_crash_during_the_resumed_run_too(tmp_path: Path, api: DemoApi) -> None:
    project = _project(tmp_path, api, incremental=True)
    first = run_hakiri("run", "issues", cwd=project, env={"HAKIRI_FAILPOINTS": "inside_commit:3"})
    assert first.returncode == -signal.SIGKILL
    second = run_hakiri("run", "issues", cwd=project, env={"HAKIRI_FAILPOINTS": "after_stage:2"})
    assert second.returncode == -signal.SIGKILL
    assert _assert_consistent(project) == 60  # chunks 1-2 by the first run, 3 by the second

    final = run_hakiri("run", "issues", "--json", cwd=project).check().json()
    assert final["status"] == "succeeded"
    described = run_hakiri("pipeline", "describe", "issues", "--json", cwd=project).check().json()
    assert [run["status"] for run in described["runs"]] == [
        "succeeded",
        "partial_failure",
        "partial_failure",
    ]
    counts = run_hakiri(
        "query", "select count(*), count(distinct id) from issues", "--format", "json", cwd=project
    ).check()
    assert counts.json()["rows"] == [[ISSUES, ISSUES]]
    assert _data_files(project) == _referenced(project)

    # The sweep completed, so the cursor moved to the newest updated_at: the next run asks
    # the API only for what changed since then.
    api.clear_requests()
    again = run_hakiri("run", "issues", "--json", cwd=project).check().json()
    assert again["status"] == "succeeded"
    assert all(r.param("since") for r in api.requests_to("/issues"))
