"""What only the SQLite adapter has to prove: durability settings, locking, crash safety."""

from __future__ import annotations

import hashlib
import os
import signal
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from sqlalchemy import text

from hakiri.context.catalog import open_catalog
from hakiri.context.catalog.memory import MemoryCatalog
from hakiri.context.catalog.sqlite import SqliteCatalog, parse_sqlite_url
from hakiri.context.testing import commit_request, run_record, staged_file
from hakiri.core.errors import CatalogError, ConfigError, CursorConflict
from hakiri.core.failpoints import ENV_VAR


def _pragma(catalog: SqliteCatalog, name: str) -> object:
    with catalog._engine.connect() as conn:
        return conn.execute(text(f"PRAGMA {name}")).scalar()


def test_wal_full_sync_foreign_keys_and_busy_timeout(tmp_path: Path) -> None:
    catalog = SqliteCatalog(tmp_path / "catalog.db")
    try:
        assert _pragma(catalog, "journal_mode") == "wal"
        assert _pragma(catalog, "synchronous") == 2  # FULL
        assert _pragma(catalog, "foreign_keys") == 1
        assert _pragma(catalog, "busy_timeout") == 10_000
    finally:
        catalog.close()


def test_open_catalog_finds_adapters_by_scheme(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "store" / "catalog.db"
    catalog = open_catalog(f"sqlite:///{path}")
    try:
        assert isinstance(catalog, SqliteCatalog)
        assert path.is_file()
    finally:
        catalog.close()
    assert isinstance(open_catalog("memory://"), MemoryCatalog)
    with pytest.raises(ConfigError) as info:
        open_catalog("mongo://localhost/x")
    assert "mongo" in info.value.message and "sqlite" in (info.value.hint or "")


def test_named_memory_catalogs_are_shared_within_the_process() -> None:
    first = open_catalog("memory://conformance-shared")
    first.create_run(run_record("r1"))
    first.close()
    again = open_catalog("memory://conformance-shared")
    assert again.get_run("r1") is not None
    assert open_catalog("memory://").get_run("r1") is None


def test_sqlite_urls() -> None:
    assert parse_sqlite_url("sqlite:////abs/catalog.db") == (Path("/abs/catalog.db"), False)
    assert parse_sqlite_url("sqlite:///rel/catalog.db") == (Path("rel/catalog.db"), False)
    assert parse_sqlite_url("sqlite:////a b/c.db?mode=ro") == (Path("/a b/c.db"), True)
    for bad in ("sqlite://", "sqlite:///:memory:", "postgres://x/y"):
        with pytest.raises(ConfigError):
            parse_sqlite_url(bad)


def test_read_only_opening_writes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "catalog.db"
    with pytest.raises(CatalogError):
        open_catalog(f"sqlite:///{path}?mode=ro")
    assert not path.exists()

    writer = SqliteCatalog(path)
    writer.create_run(run_record("r1"))
    writer.commit(commit_request("r1", files=(staged_file("context/issues/a.parquet"),)))
    writer.close()
    digest = hashlib.sha256(path.read_bytes()).hexdigest()

    reader = open_catalog(f"sqlite:///{path}?mode=ro")
    try:
        assert [f.path for f in reader.list_files("issues")] == ["context/issues/a.parquet"]
        with pytest.raises(CatalogError, match="readonly"):
            reader.create_run(run_record("r2"))
    finally:
        reader.close()
    assert hashlib.sha256(path.read_bytes()).hexdigest() == digest


def test_two_writers_racing_on_one_version_get_one_conflict(tmp_path: Path) -> None:
    path = tmp_path / "catalog.db"
    setup = SqliteCatalog(path)
    setup.create_run(run_record("r1"))
    setup.close()
    catalogs = [SqliteCatalog(path), SqliteCatalog(path)]
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def commit(index: int) -> None:
        request = commit_request(
            "r1",
            files=(staged_file(f"context/issues/{index}.parquet"),),
            key=f"commit:{index}",
            cursor_value=index,
        )
        barrier.wait()
        try:
            catalogs[index].commit(request)
            outcomes.append("ok")
        except CursorConflict:
            outcomes.append("conflict")

    threads = [threading.Thread(target=commit, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        assert sorted(outcomes) == ["conflict", "ok"]
        cursor = catalogs[0].get_cursor("issues")
        assert cursor is not None and cursor.version == 1
        assert len(catalogs[1].list_files("issues")) == 1
        run = catalogs[0].get_run("r1")
        assert run is not None and run.files == 1
    finally:
        for catalog in catalogs:
            catalog.close()


_KILLED_COMMIT = """
import sys
from hakiri.context.catalog.sqlite import SqliteCatalog
from hakiri.context.testing import commit_request, staged_file

catalog = SqliteCatalog(sys.argv[1])
catalog.commit(
    commit_request(
        "r1",
        files=(staged_file("context/issues/b.parquet", rows=7),),
        expected_version=1,
        key="commit:1",
        cursor_value=2,
        pages=3,
    )
)
print("the commit returned: the failpoint did not fire")
"""


def test_a_commit_killed_midway_leaves_no_trace(tmp_path: Path) -> None:
    path = tmp_path / "catalog.db"
    catalog = SqliteCatalog(path)
    catalog.create_run(run_record("r1"))
    catalog.commit(
        commit_request("r1", files=(staged_file("context/issues/a.parquet"),), cursor_value=1)
    )
    catalog.close()

    env = {**os.environ, ENV_VAR: "inside_commit:1"}
    done = subprocess.run(
        [sys.executable, "-c", _KILLED_COMMIT, str(path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == -signal.SIGKILL, done.stdout + done.stderr

    catalog = SqliteCatalog(path)
    try:
        cursor = catalog.get_cursor("issues")
        assert cursor is not None and (cursor.version, cursor.value) == (1, 1)
        assert [f.path for f in catalog.list_files("issues")] == ["context/issues/a.parquet"]
        assert catalog.referenced_paths("issues") == {"context/issues/a.parquet"}
        assert [s.key for s in catalog.list_steps("r1")] == ["commit:0"]
        run = catalog.get_run("r1")
        assert run is not None and (run.rows, run.pages, run.files) == (3, 1, 1)
        with catalog._engine.connect() as conn:
            assert conn.execute(text("PRAGMA integrity_check")).scalar() == "ok"
        # The next commit builds on the version that survived.
        catalog.commit(
            commit_request(
                "r1",
                files=(staged_file("context/issues/b.parquet"),),
                expected_version=1,
                key="commit:1",
            )
        )
    finally:
        catalog.close()


def test_opening_an_existing_catalog_does_not_wait_for_the_write_lock(tmp_path: Path) -> None:
    path = tmp_path / "catalog.db"
    SqliteCatalog(path).close()
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # a writer in the middle of a long commit
    try:
        catalog = SqliteCatalog(path)
        try:
            assert catalog.list_tables() == []
        finally:
            catalog.close()
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def test_a_catalog_from_an_older_version_gains_new_columns_in_place(tmp_path: Path) -> None:
    path = tmp_path / "catalog.db"
    catalog = SqliteCatalog(path)
    catalog.create_run(run_record("r1"))
    catalog.commit(commit_request("r1", table="t", files=(staged_file("context/t/a.parquet"),)))
    catalog.close()
    # A catalog written before `tables.schema_policy` existed (and before schema revisions).
    con = sqlite3.connect(path)
    con.execute("ALTER TABLE tables DROP COLUMN schema_policy")
    con.execute("DROP TABLE alembic_version")
    con.commit()
    con.close()

    reopened = SqliteCatalog(path)
    try:
        table = reopened.get_table("t")
        assert table is not None and str(table.schema_policy) == "evolve"
        assert [f.path for f in reopened.list_files("t")] == ["context/t/a.parquet"]
    finally:
        reopened.close()


# -- read-only: nothing written, not even the WAL files -------------------------------------


def _directory(path: Path) -> dict[str, str]:
    """Names and contents of every file beside the catalog."""
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(path.parent.iterdir())
    }


def _older_catalog(path: Path) -> None:
    """A catalog written before ``tables.schema_policy`` and the ``events`` table existed
    (and before schema revisions)."""
    catalog = SqliteCatalog(path)
    catalog.create_run(run_record("r1"))
    catalog.commit(commit_request("r1", table="t", files=(staged_file("context/t/a.parquet"),)))
    catalog.close()
    con = sqlite3.connect(path)
    con.execute("ALTER TABLE tables DROP COLUMN schema_policy")
    con.execute("DROP TABLE events")
    con.execute("DROP TABLE alembic_version")
    con.commit()
    con.close()


def test_a_read_only_catalog_reads_an_older_catalog_without_upgrading_it(
    tmp_path: Path,
) -> None:
    path = tmp_path / "catalog.db"
    _older_catalog(path)
    before = _directory(path)
    catalog = open_catalog(f"sqlite:///{path}?mode=ro")
    try:
        table = catalog.get_table("t")
        assert table is not None and str(table.schema_policy) == "evolve"
        assert [f.path for f in catalog.list_files("t")] == ["context/t/a.parquet"]
        assert catalog.list_events("t") == []
        assert [r.run_id for r in catalog.list_runs()] == ["r1"]
        with pytest.raises(CatalogError):
            catalog.create_run(run_record("r2"))
    finally:
        catalog.close()
    assert _directory(path) == before
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        columns = {row[1] for row in con.execute("PRAGMA table_info(tables)")}
        assert "schema_policy" not in columns  # still the older schema
    finally:
        con.close()


def test_a_read_only_catalog_leaves_no_wal_files(tmp_path: Path) -> None:
    path = tmp_path / "catalog.db"
    SqliteCatalog(path).close()
    before = _directory(path)
    assert set(before) == {"catalog.db"}
    for _ in range(3):
        catalog = SqliteCatalog(path, read_only=True)
        assert catalog.list_tables() == []
        catalog.close()
        assert _directory(path) == before


def test_a_read_only_close_leaves_a_running_writers_wal_alone(tmp_path: Path) -> None:
    path = tmp_path / "catalog.db"
    SqliteCatalog(path).close()
    writer = SqliteCatalog(path)
    try:
        writer.create_run(run_record("r1"))
        reader = SqliteCatalog(path, read_only=True)
        assert [r.run_id for r in reader.list_runs()] == ["r1"]
        reader.close()
        # The writer still has the database open: its WAL must stay, and keep working.
        assert {p.name for p in tmp_path.iterdir()} >= {"catalog.db-wal", "catalog.db-shm"}
        writer.create_run(run_record("r2"))
        assert {r.run_id for r in writer.list_runs()} == {"r1", "r2"}
    finally:
        writer.close()
    assert {p.name for p in tmp_path.iterdir()} == {"catalog.db"}
    again = SqliteCatalog(path, read_only=True)
    try:
        assert {r.run_id for r in again.list_runs()} == {"r1", "r2"}
    finally:
        again.close()


def test_commits_made_while_a_reader_was_open_survive_its_cleanup(tmp_path: Path) -> None:
    path = tmp_path / "catalog.db"
    SqliteCatalog(path).close()
    reader = SqliteCatalog(path, read_only=True)
    assert reader.list_runs() == []
    writer = SqliteCatalog(path)
    writer.create_run(run_record("r1"))
    writer.close()  # not the last connection: its commit stays in the WAL
    assert [r.run_id for r in reader.list_runs()] == ["r1"]
    reader.close()  # the last one: the WAL is checkpointed into the file, then removed
    assert {p.name for p in tmp_path.iterdir()} == {"catalog.db"}
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        assert con.execute("select run_id from runs").fetchall() == [("r1",)]
        assert con.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    finally:
        con.close()
