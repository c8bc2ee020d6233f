"""A ``primary_key`` must name columns of the data: a clear error at the first page.

A merge key naming no column used to be accepted; the run committed files whose
newest-per-key view could not be read, so the table was lost to every query. Now the run
fails before anything is committed, naming the missing key columns and the columns that
exist, and a merge without any key is refused when the manifest loads.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hakiri.testing.cli import CliResult, run_hakiri
from hakiri.testing.demo_api import DemoApi
from hakiri.testing.project import store_fingerprint, write_manifest

COMMITTED = ("tables", "files", "schema_versions", "cursors")


def _pipeline(url: str, destination: str) -> str:
    return f"""[pipelines.issues.source]
connector = "http"
url = "{url}/issues"
params = {{ style = "link", per_page = 10 }}
pagination = {{ kind = "link_header" }}

[pipelines.issues.destination]
{destination}
"""


@pytest.fixture(scope="module")
def api() -> Iterator[DemoApi]:
    with DemoApi(issues=25) as server:
        yield server


def _one_error_line(result: CliResult) -> str:
    assert result.returncode > 0, (result.returncode, result.stdout, result.stderr)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    return lines[0]


def _catalog(project: Path, sql: str) -> list[Any]:
    con = sqlite3.connect(f"file:{project / '.hakiri' / 'catalog.db'}?mode=ro", uri=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_a_key_naming_no_column_fails_the_first_page(tmp_path: Path, api: DemoApi) -> None:
    write_manifest(
        tmp_path, _pipeline(api.url, 'write = "merge"\nprimary_key = ["region", "id", "sku"]')
    )
    line = _one_error_line(run_hakiri("run", "issues", cwd=tmp_path))
    assert line.startswith("error[primary_key_missing]: table 'issues':"), line
    assert "'region', 'sku'" in line  # the missing key columns…
    assert "'id', 'number', 'title'" in line  # …and the columns that exist
    assert len(api.requests_to("/issues")) >= 1
    assert _catalog(tmp_path, "select count(*) from files") == [(0,)]
    assert _catalog(tmp_path, "select count(*) from tables") == [(0,)]
    assert _catalog(tmp_path, "select status, error_code from runs") == [
        ("failed", "primary_key_missing")
    ]
    assert not list((tmp_path / ".hakiri").rglob("*.parquet"))


def test_a_changed_key_fails_without_touching_the_committed_table(
    tmp_path: Path, api: DemoApi
) -> None:
    write_manifest(tmp_path, _pipeline(api.url, 'write = "merge"\nprimary_key = ["id"]'))
    run_hakiri("run", "issues", cwd=tmp_path).check()
    before = store_fingerprint(tmp_path / ".hakiri", catalog_tables=COMMITTED)
    write_manifest(tmp_path, _pipeline(api.url, 'write = "merge"\nprimary_key = ["ID"]'))
    line = _one_error_line(run_hakiri("run", "issues", cwd=tmp_path))
    assert line.startswith("error[primary_key_missing]:"), line
    assert "'ID'" in line
    assert store_fingerprint(tmp_path / ".hakiri", catalog_tables=COMMITTED) == before
    [(key,)] = _catalog(tmp_path, "select primary_key from tables where name = 'issues'")
    assert json.loads(key) == ["id"]


def test_a_key_on_an_append_table_is_checked_too(tmp_path: Path, api: DemoApi) -> None:
    write_manifest(tmp_path, _pipeline(api.url, 'primary_key = ["uuid"]'))
    line = _one_error_line(run_hakiri("run", "issues", cwd=tmp_path))
    assert line.startswith("error[primary_key_missing]:"), line
    assert not list((tmp_path / ".hakiri").rglob("*.parquet"))


@pytest.mark.parametrize(
    ("destination", "says"),
    [
        ('write = "merge"', "needs a primary_key"),
        ('write = "merge"\nprimary_key = []', "needs a primary_key"),
        ('write = "merge"\nprimary_key = ["id", "id"]', "distinct, non-empty"),
        ('write = "merge"\nprimary_key = [""]', "distinct, non-empty"),
    ],
)
def test_a_merge_without_a_usable_key_is_refused_at_load(
    tmp_path: Path, api: DemoApi, destination: str, says: str
) -> None:
    write_manifest(tmp_path, _pipeline(api.url, destination))
    asked = len(api.requests)
    line = _one_error_line(run_hakiri("run", "issues", cwd=tmp_path))
    assert line.startswith("error[manifest_invalid]:"), line
    assert "pipelines.issues.destination" in line and says in line
    assert len(api.requests) == asked
    assert not (tmp_path / ".hakiri").exists()
