"""``hakiri run`` with ``catalog = "postgres://…"``: the crash-safety pipeline of
test_crash_safety.py (95 issues, pages of 10, a commit every 20 rows) killed by SIGKILL
inside a commit, and cut off from its catalog by a server restart between commits. Either
way the next run resumes from the last committed cursor and the table holds every row
exactly once (issue 13, "Done means" 2 and 6).
"""

from __future__ import annotations

import hashlib
import json
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from hakiri.context.catalog.postgres import open_postgres_catalog
from hakiri.testing.cli import run_hakiri, spawn_hakiri
from hakiri.testing.demo_api import DemoApi
from hakiri.testing.postgres import LocalPostgres, PostgresDatabase
from hakiri.testing.project import issues_pipeline, write_manifest

ISSUES = 95
PER_PAGE = 10
PAGES = 10


@pytest.fixture
def api() -> Iterator[DemoApi]:
    with DemoApi(issues=ISSUES) as server:
        yield server


def _catalog_url(database_url: str) -> str:
    return "postgres://" + database_url.partition("://")[2]


def _project(tmp_path: Path, api: DemoApi, catalog: str) -> Path:
    write_manifest(tmp_path, issues_pipeline(api.url, per_page=PER_PAGE), catalog=catalog)
    return tmp_path


def _committed_rows(project: Path, catalog_url: str) -> int:
    """Rows the catalog says are committed; every committed file is on disk with its
    checksum, and no data file outside them remains."""
    store = project / ".hakiri"
    catalog = open_postgres_catalog(catalog_url)
    try:
        files = catalog.list_files("issues") if catalog.get_table("issues") else []
        for record in files:
            data = (store / record.path).read_bytes()
            assert f"sha256:{hashlib.sha256(data).hexdigest()}" == record.checksum
        assert (catalog.get_cursor("issues") is None) == (not files)
        return sum(f.rows for f in files)
    finally:
        catalog.close()


def _pages_requested(api: DemoApi) -> list[int]:
    return [int(r.param("page") or 1) for r in api.requests_to("/issues")]


def _resume_and_check(project: Path, api: DemoApi, catalog_url: str, committed: int) -> None:
    api.clear_requests()
    rerun = run_hakiri("run", "issues", "--json", cwd=project).check().json()
    assert rerun["status"] == "succeeded"
    assert len(rerun["interrupted_runs"]) == 1
    # Resumed from the last committed cursor: only the pages that were not committed.
    assert _pages_requested(api) == list(range(committed // PER_PAGE + 1, PAGES + 1))
    assert rerun["rows"] == ISSUES - committed

    described = run_hakiri("pipeline", "describe", "issues", "--json", cwd=project).check().json()
    assert [run["status"] for run in described["runs"]] == ["succeeded", "partial_failure"]
    counts = run_hakiri(
        "query", "select count(*), count(distinct id) from issues", "--format", "json", cwd=project
    ).check()
    assert counts.json()["rows"] == [[ISSUES, ISSUES]]
    assert _committed_rows(project, catalog_url) == ISSUES


def test_sigkill_inside_a_commit_then_resume(
    tmp_path: Path, api: DemoApi, postgres_db: PostgresDatabase
) -> None:
    url = _catalog_url(postgres_db.url)
    project = _project(tmp_path, api, url)
    crashed = run_hakiri("run", "issues", cwd=project, env={"HAKIRI_FAILPOINTS": "inside_commit:2"})
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr
    assert _committed_rows(project, url) == 20  # chunk 1; nothing of chunk 2
    described = run_hakiri("pipeline", "describe", "issues", "--json", cwd=project).check().json()
    assert [run["status"] for run in described["runs"]] == ["running"]
    _resume_and_check(project, api, url, 20)


@pytest.fixture
def own_server() -> Iterator[LocalPostgres]:
    """A server of this test's own, since it is restarted (the shared one serves others)."""
    with LocalPostgres() as server:
        yield server


def _rows_in_files(url: str) -> int:
    """Rows of the files the catalog lists now. (Polled while a run commits, so it checks
    nothing across reads: the cursor may already be ahead of a list read just before.)"""
    catalog = open_postgres_catalog(url)
    try:
        if catalog.get_table("issues") is None:
            return 0
        return sum(f.rows for f in catalog.list_files("issues"))
    finally:
        catalog.close()


def _wait_committed(url: str, rows: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while _rows_in_files(url) < rows:
        assert time.monotonic() < deadline, f"{rows} rows were never committed"
        time.sleep(0.05)


def _run_between_commits(
    project: Path, api: DemoApi, url: str, meanwhile: Callable[[], None]
) -> tuple[int, str, str]:
    """``hakiri run`` with ``meanwhile()`` done while the run is between two commits
    (chunks 1-3 committed, page 7 held); its exit code, stdout and stderr."""
    api.hold_page(7)
    proc = spawn_hakiri("run", "issues", "--json", cwd=project)
    try:
        assert api.wait_held(timeout=60), "the run never reached page 7"
        _wait_committed(url, 60)
        meanwhile()
        api.release()
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
        api.release()
    return proc.returncode, out, err


def test_a_server_restart_mid_run_fails_the_run_and_the_next_resumes(
    tmp_path: Path, api: DemoApi, own_server: LocalPostgres
) -> None:
    url = _catalog_url(own_server.create_database().url)
    project = _project(tmp_path, api, url)
    # Every session is cut off, and the next commit finds no server.
    code, out, err = _run_between_commits(project, api, url, own_server.halt)
    own_server.resume()

    assert code not in (0, -signal.SIGKILL), (out, err)
    errors = [line for line in err.splitlines() if line.strip()]
    assert len(errors) == 1 and "catalog" in errors[0], err
    assert "Traceback" not in err
    assert _committed_rows(project, url) == 60
    _resume_and_check(project, api, url, 60)


def test_a_server_restart_between_commits_costs_the_run_nothing(
    tmp_path: Path, api: DemoApi, own_server: LocalPostgres
) -> None:
    url = _catalog_url(own_server.create_database().url)
    project = _project(tmp_path, api, url)
    # Back before the next commit: the pool replaces the dead connections.
    code, out, err = _run_between_commits(project, api, url, own_server.restart)

    assert code == 0, err
    assert json.loads(out)["status"] == "succeeded"
    assert _committed_rows(project, url) == ISSUES
    counts = run_hakiri(
        "query", "select count(*), count(distinct id) from issues", "--format", "json", cwd=project
    ).check()
    assert counts.json()["rows"] == [[ISSUES, ISSUES]]
