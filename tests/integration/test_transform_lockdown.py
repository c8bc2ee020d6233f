"""Transforms run on a locked-down DuckDB connection and must be one SELECT.

A transform that is not one SELECT is refused before the run reads anything; one that fails
on a batch (it tries to read a file, to turn on file logging…) fails the run. Either way:
one ``error[code]`` line, a non-zero exit, nothing written — and never a process killed by
a signal (``CALL enable_logging(storage='file', …)`` used to abort ``hakiri run`` and the
whole daemon with SIGABRT).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from hakiri.testing.cli import CliResult, run_hakiri
from hakiri.testing.daemon import DaemonProcess
from hakiri.testing.demo_api import DemoApi
from hakiri.testing.project import store_fingerprint, write_manifest

pytestmark = pytest.mark.timeout(180)

COMMITTED = ("tables", "files", "schema_versions", "cursors")
"""Catalog tables that hold what readers see (a failed run adds its own run row)."""

# Each {out} is a path inside the test's directory that must never be created.
REFUSED = {
    "call_enable_logging": "CALL enable_logging(storage='file', storage_path='{out}')",
    "set": "SET threads = 1",
    "copy_to": "COPY (SELECT * FROM batch) TO '{out}'",
    "attach": "ATTACH '{out}' AS other",
    "pragma": "PRAGMA enable_profiling",
    "install": "INSTALL httpfs",
    "second_statement": "SELECT * FROM batch; COPY (SELECT 1) TO '{out}'",
    "explain_analyze": "EXPLAIN ANALYZE SELECT * FROM batch",
    "not_sql": "SELEC * FROM batch",
}

FAILING = {
    # A SELECT that calls the table function behind CALL enable_logging.
    "select_enable_logging": (
        "SELECT * FROM batch, enable_logging(storage='file', storage_path='{out}')"
    ),
    "read_file": "SELECT * FROM batch, read_text('{secret_file}')",
    "glob": "SELECT * FROM batch, glob('{root}/*')",
    "nested_statement": "SELECT * FROM query('COPY (SELECT 1) TO ''{out}''')",
    "missing_column": "SELECT no_such_column FROM batch",
}


def _pipeline(name: str, url: str, sql: str) -> str:
    body = sql.replace("\\", "\\\\").replace('"', '\\"')
    return f"""
[pipelines.{name}.source]
connector = "http"
url = "{url}/issues"
params = {{ style = "link", per_page = 20 }}
pagination = {{ kind = "link_header" }}

[[pipelines.{name}.transforms]]
sql = "{body}"
"""


@pytest.fixture(scope="module")
def api() -> Iterator[DemoApi]:
    with DemoApi(issues=30) as server:
        yield server


@pytest.fixture
def project(tmp_path: Path, api: DemoApi) -> Path:
    """A project that has committed one good run, plus one pipeline per hostile transform."""
    root = tmp_path / "project"
    secret_file = tmp_path / "secret.txt"
    secret_file.write_text("not for transforms\n")
    values = {"out": str(tmp_path / "written"), "secret_file": secret_file, "root": tmp_path}
    good = "SELECT id, upper(title) AS title FROM batch"
    body = _pipeline("good", api.url, good)
    for name, sql in {**REFUSED, **FAILING}.items():
        body += _pipeline(name, api.url, sql.format(**values))
    write_manifest(root, body)
    run_hakiri("run", "good", cwd=root).check()
    return root


def _one_error_line(result: CliResult) -> str:
    # A negative return code is a signal (SIGABRT was -6): the process must exit by itself.
    assert result.returncode > 0, (result.returncode, result.stderr)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error["), lines[0]
    return lines[0]


def _nothing_written(tmp_path: Path) -> None:
    assert not (tmp_path / "written").exists()
    assert not [p for p in tmp_path.rglob("*") if "duckdb" in p.name.lower()]


def test_a_select_transform_runs(project: Path) -> None:
    files = sorted((project / ".hakiri" / "context" / "good").rglob("*.parquet"))
    rows = [row for path in files for row in pq.read_table(path).to_pylist()]
    assert len(rows) == 30
    assert set(rows[0]) == {"id", "title"}
    assert all(row["title"] == row["title"].upper() for row in rows)


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_anything_but_one_select_is_refused_before_the_run(
    project: Path, tmp_path: Path, api: DemoApi, name: str
) -> None:
    before = store_fingerprint(project / ".hakiri")
    asked = len(api.requests)
    line = _one_error_line(run_hakiri("run", name, cwd=project))
    assert line.startswith("error[transform_refused]:"), line
    assert f"pipeline '{name}', transform 1" in line
    assert len(api.requests) == asked, "a refused transform must not start the run"
    assert store_fingerprint(project / ".hakiri") == before
    _nothing_written(tmp_path)


@pytest.mark.parametrize("name", sorted(FAILING))
def test_a_failing_select_fails_the_run_not_the_process(
    project: Path, tmp_path: Path, name: str
) -> None:
    before = store_fingerprint(project / ".hakiri", catalog_tables=COMMITTED)
    line = _one_error_line(run_hakiri("run", name, cwd=project))
    assert line.startswith("error[transform_failed]:"), line
    assert "not for transforms" not in line
    assert store_fingerprint(project / ".hakiri", catalog_tables=COMMITTED) == before
    assert not (project / ".hakiri" / "context" / name).exists() or not list(
        (project / ".hakiri" / "context" / name).rglob("*.parquet")
    )
    _nothing_written(tmp_path)
    runs = run_hakiri("run", "good", cwd=project)
    assert runs.returncode == 0, runs.stderr


def test_the_daemon_survives_hostile_transforms(project: Path, tmp_path: Path) -> None:
    with DaemonProcess(project) as daemon:
        hostile = {
            "select_enable_logging": "transform_failed",
            "read_file": "transform_failed",
            "call_enable_logging": "transform_refused",
            "copy_to": "transform_refused",
        }
        for name, code in hostile.items():
            started = daemon.post(f"/v1/pipelines/{name}/runs")
            assert started.status == 202, started
            run = daemon.wait_run(started.json()["run_id"], timeout=60)
            assert run["status"] == "failed", run
            assert run["error"]["code"] == code, run
            assert daemon.proc is not None and daemon.proc.poll() is None, daemon.log()
        assert daemon.get("/healthz").status == 200
        started = daemon.post("/v1/pipelines/good/runs")
        assert daemon.wait_run(started.json()["run_id"], timeout=60)["status"] == "succeeded"
        assert daemon.stop(timeout=30) == 0, daemon.log()
    _nothing_written(tmp_path)
    assert os.path.isdir(project / ".hakiri")
