"""Read-only commands leave the store exactly as they found it: names and bytes.

``hakiri query``, ``pipeline list/describe``, ``plan`` and ``source discover/sample`` open
the SQLite catalog read-only: an older catalog is not migrated, and the ``catalog.db-wal`` /
``-shm`` files SQLite makes for a read-only reader are gone when the command ends — unless a
writer still has the catalog open, whose files stay and whose run goes on unharmed.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from hakiri.testing.cli import run_hakiri, spawn_hakiri
from hakiri.testing.demo_api import DemoApi
from hakiri.testing.project import write_manifest

READ_ONLY = [
    ("query", "select count(*) from issues"),
    ("query", "select * from issues limit 3", "--format", "json"),
    ("pipeline", "list"),
    ("pipeline", "list", "--json"),
    ("pipeline", "describe", "issues"),
    ("pipeline", "describe", "issues", "--json"),
    ("plan", "issues"),
    ("source", "discover", "issues"),
    ("source", "sample", "issues", "--limit", "2"),
]


def _files(store: Path) -> dict[str, str]:
    """The store's directory listing, recursively, with every file's digest."""
    return {
        str(p.relative_to(store)): hashlib.sha256(p.read_bytes()).hexdigest()
        if p.is_file()
        else "dir"
        for p in sorted(store.rglob("*"))
    }


@pytest.fixture(scope="module")
def api() -> Iterator[DemoApi]:
    with DemoApi(issues=60) as server:
        yield server


def _project(root: Path, api: DemoApi) -> Path:
    write_manifest(
        root,
        f"""[pipelines.issues]
chunk_rows = 10

[pipelines.issues.source]
connector = "http"
url = "{api.url}/issues"
params = {{ style = "link", per_page = 10 }}
pagination = {{ kind = "link_header" }}
""",
    )
    run_hakiri("run", "issues", cwd=root).check()
    return root


@pytest.mark.parametrize("older", [False, True], ids=["current-catalog", "older-catalog"])
def test_read_only_commands_leave_the_store_byte_identical(
    tmp_path: Path, api: DemoApi, older: bool
) -> None:
    project = _project(tmp_path, api)
    store = project / ".hakiri"
    if older:
        con = sqlite3.connect(store / "catalog.db")
        con.execute("ALTER TABLE tables DROP COLUMN schema_policy")
        con.commit()
        con.close()
    before = _files(store)
    assert "catalog.db" in before and "catalog.db-wal" not in before
    for args in READ_ONLY:
        result = run_hakiri(*args, cwd=project)
        assert result.returncode == 0, (args, result.stderr)
        assert _files(store) == before, f"hakiri {' '.join(args)} changed the store"


def test_a_query_during_a_run_leaves_the_writers_wal_and_the_run_unharmed(
    tmp_path: Path, api: DemoApi
) -> None:
    project = _project(tmp_path, api)
    store = project / ".hakiri"
    api.hold_page(3)
    try:
        proc = spawn_hakiri("run", "issues", cwd=project)
        try:
            assert api.wait_held(60)
            # The run has committed its first pages and holds the catalog open.
            result = run_hakiri(
                "query", "select count(*) from issues", "--format", "json", cwd=project
            )
            assert result.returncode == 0, result.stderr
            assert {"catalog.db-wal", "catalog.db-shm"} <= set(_files(store))
        finally:
            api.release()
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    finally:
        api.release()
    after = run_hakiri("query", "select count(*) as n from issues", "--format", "json", cwd=project)
    assert after.check().json()["rows"] == [[120]]
    assert not {"catalog.db-wal", "catalog.db-shm"} & set(_files(store))
