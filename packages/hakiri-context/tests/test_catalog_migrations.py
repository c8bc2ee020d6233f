"""The catalog's schema migrations: the Alembic revisions build exactly ``_schema.metadata``
(on SQLite and Postgres), a catalog the last Hakiri before migrations wrote upgrades in
place with every row kept, a catalog newer than this Hakiri is refused byte for byte
unchanged, and ``hakiri catalog status`` / ``upgrade`` through the real CLI.

``fixtures/catalog_before_alembic.db`` was written by Hakiri at commit 8442938, before
migrations existed (``fixtures/make_catalog_before_alembic.py`` says how).
"""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Column, Engine, MetaData, String, create_engine, inspect
from sqlalchemy.pool import NullPool

from hakiri.context.catalog import open_catalog
from hakiri.context.catalog._schema import metadata
from hakiri.context.catalog.migrations import (
    BASELINE,
    HEAD,
    MigratedCatalog,
    NewerCatalog,
    _alembic,
    schema_status,
    stored_revision,
    upgrade_schema,
)
from hakiri.context.catalog.sqlite import SqliteCatalog
from hakiri.context.testing import commit_request, run_record, staged_file, worker_lease
from hakiri.core.errors import CatalogError
from hakiri.testing.cli import run_hakiri
from hakiri.testing.postgres import PostgresDatabase, PostgresServer
from hakiri.testing.project import write_manifest

FIXTURE = Path(__file__).parent / "fixtures" / "catalog_before_alembic.db"
NEWER = "9999"
REFUSAL = (
    rf"is at schema revision {NEWER}, newer than this Hakiri knows \(head {HEAD}\): "
    "upgrade hakiri"
)


# -- helpers ---------------------------------------------------------------------------------


def _old_catalog(directory: Path) -> Path:
    """A copy of the fixture at ``directory/catalog.db``."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "catalog.db"
    shutil.copyfile(FIXTURE, path)
    return path


def _newer_catalog(directory: Path) -> Path:
    """The fixture stamped with a revision no Hakiri has shipped (still in rollback-journal
    mode: a writable open that switched it to WAL would change its header)."""
    path = _old_catalog(directory)
    con = sqlite3.connect(path)
    try:
        con.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) PRIMARY KEY)")
        con.execute("INSERT INTO alembic_version VALUES (?)", (NEWER,))
        con.commit()
    finally:
        con.close()
    return path


def _rows(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, in a stable order."""
    con = sqlite3.connect(path)
    try:
        names = [
            row[0]
            for row in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            if not row[0].startswith("sqlite_")
        ]
        return {
            name: sorted(con.execute(f'SELECT * FROM "{name}"').fetchall(), key=repr)
            for name in names
        }
    finally:
        con.close()


def _digests(directory: Path) -> dict[str, str]:
    """Names and sha256 of every file in ``directory``."""
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(directory.iterdir())}


def _engine(url: str) -> Engine:
    return create_engine(url, poolclass=NullPool)


def _postgres(db: PostgresDatabase, scheme: str = "postgresql+psycopg") -> str:
    """``db``'s URL with another scheme: SQLAlchemy's driver, or the manifest's postgres."""
    return f"{scheme}://" + db.url.partition("://")[2]


def _diff(engine: Engine, target: MetaData = metadata) -> list[Any]:
    """What autogenerate would change to make the database match ``target`` (no diff: same
    tables, columns, types, nullability, defaults, keys and indexes)."""
    opts = {"compare_type": True, "compare_server_default": True}
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts=opts), target)
    # Changes to one table's columns come grouped in a list.
    return [op for entry in diff for op in (entry if isinstance(entry, list) else [entry])]


def _layout(engine: Engine) -> dict[str, Any]:
    """The catalog's tables as the database reflects them (its own version table aside)."""
    with engine.connect() as conn:
        inspector = inspect(conn)
        layout: dict[str, Any] = {}
        for name in sorted(set(inspector.get_table_names()) - {"alembic_version"}):
            layout[name] = {
                "columns": [
                    (c["name"], str(c["type"]), c["nullable"], c.get("default"))
                    for c in inspector.get_columns(name)
                ],
                "primary_key": inspector.get_pk_constraint(name)["constrained_columns"],
                "foreign_keys": sorted(
                    (tuple(fk["constrained_columns"]), fk["referred_table"])
                    for fk in inspector.get_foreign_keys(name)
                ),
                "unique": sorted(
                    (u["name"], tuple(u["column_names"]))
                    for u in inspector.get_unique_constraints(name)
                ),
                "indexes": sorted(
                    (i["name"], tuple(i["column_names"]), bool(i["unique"]))
                    for i in inspector.get_indexes(name)
                ),
            }
        return layout


def _upgrade(engine: Engine, where: str) -> None:
    with engine.begin() as conn:
        upgrade_schema(conn, where=where)


# -- the revisions against the metadata ------------------------------------------------------


def test_head_is_the_newest_revision_and_the_baseline_comes_first() -> None:
    assert HEAD == _alembic.head()
    assert _alembic.pending(None)[0] == BASELINE
    assert _alembic.pending(HEAD) == ()


def test_the_revisions_build_exactly_the_metadata_on_sqlite(tmp_path: Path) -> None:
    migrated = _engine(f"sqlite:///{tmp_path / 'migrated.db'}")
    created = _engine(f"sqlite:///{tmp_path / 'created.db'}")
    _upgrade(migrated, "migrated.db")
    metadata.create_all(created)
    assert _diff(migrated) == []
    assert _layout(migrated) == _layout(created)
    assert set(_layout(migrated)) == set(metadata.tables)


def test_a_schema_change_without_a_revision_shows_as_a_difference(tmp_path: Path) -> None:
    # What keeps the revisions honest: a column added to the metadata alone is a diff.
    migrated = _engine(f"sqlite:///{tmp_path / 'migrated.db'}")
    _upgrade(migrated, "migrated.db")
    changed = MetaData()
    for table in metadata.sorted_tables:
        table.to_metadata(changed)
    changed.tables["runs"].append_column(Column("note", String(64), nullable=True))
    assert [op[0] for op in _diff(migrated, changed)] == ["add_column"]


def test_the_revisions_build_exactly_the_metadata_on_postgres(
    postgres_server: PostgresServer,
) -> None:
    pytest.importorskip("psycopg")
    databases = [postgres_server.create_database() for _ in range(2)]
    try:
        migrated, created = (_engine(_postgres(db)) for db in databases)
        _upgrade(migrated, databases[0].name)
        _upgrade(migrated, databases[0].name)  # a second upgrade finds nothing to do
        metadata.create_all(created)
        assert _diff(migrated) == []
        assert _layout(migrated) == _layout(created)
        with migrated.connect() as conn:
            assert stored_revision(conn) == HEAD
        migrated.dispose()
        created.dispose()
    finally:
        for db in databases:
            postgres_server.drop_database(db)


# -- catalogs written before migrations --------------------------------------------------------


def test_a_catalog_written_before_migrations_upgrades_in_place_with_every_row_kept(
    tmp_path: Path,
) -> None:
    path = _old_catalog(tmp_path)
    before = _rows(path)
    assert "alembic_version" not in before and all(before.values())  # every table has rows

    catalog = SqliteCatalog(path)
    try:
        assert catalog.schema_status().up_to_date
    finally:
        catalog.close()
    after = _rows(path)
    assert after.pop("alembic_version") == [(BASELINE,)]
    assert after == before  # every row of every table, unchanged

    # And the catalog carries on where it was: the cursor, the fencing token, the runs.
    catalog = SqliteCatalog(path)
    try:
        cursor = catalog.get_cursor("issues")
        assert cursor is not None and cursor.version == 2
        catalog.create_run(run_record("r3"))
        catalog.commit(
            commit_request(
                "r3",
                files=(staged_file("context/issues/r3-0001.parquet"),),
                expected_version=2,
                lease=worker_lease(3),
            )
        )
        paths = [f.path for f in catalog.list_files("issues")]
        assert paths[-1] == "context/issues/r3-0001.parquet"
    finally:
        catalog.close()
    assert _diff(_engine(f"sqlite:///{path}")) == []


def test_an_older_layout_gains_what_it_lacked_and_matches_the_metadata(tmp_path: Path) -> None:
    # A catalog from before fencing and schema policies, as the first release wrote it.
    path = _old_catalog(tmp_path)
    con = sqlite3.connect(path)
    con.execute("DROP TABLE fences")
    con.execute("ALTER TABLE tables DROP COLUMN schema_policy")
    con.commit()
    con.close()
    files_before = _rows(path)["files"]

    SqliteCatalog(path).close()
    rows = _rows(path)
    assert rows["alembic_version"] == [(BASELINE,)]
    assert rows["files"] == files_before
    assert rows["fences"] == []
    # The hand-written upgrade gave schema_policy a server default: nothing else differs.
    diff = _diff(_engine(f"sqlite:///{path}"))
    assert [(op[0], op[3]) for op in diff] == [("modify_default", "schema_policy")]


def test_two_processes_opening_an_old_catalog_at_once_upgrade_it_once(tmp_path: Path) -> None:
    path = _old_catalog(tmp_path)
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def open_it() -> None:
        start.wait()
        try:
            SqliteCatalog(path).close()
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=open_it) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert _rows(path)["alembic_version"] == [(BASELINE,)]


def test_a_read_only_open_reads_an_old_catalog_without_upgrading_it(tmp_path: Path) -> None:
    path = _old_catalog(tmp_path)
    before = _digests(tmp_path)
    catalog = SqliteCatalog(path, read_only=True)
    try:
        status = catalog.schema_status()
        assert (status.current, status.before_alembic, status.up_to_date) == (None, True, False)
        assert [r.run_id for r in catalog.list_runs("users")] == ["u3", "u2", "u1"]
    finally:
        catalog.close()
    assert _digests(tmp_path) == before


# -- new catalogs, and upgrading twice --------------------------------------------------------


def test_a_new_catalog_is_at_head_and_a_second_upgrade_changes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "catalog.db"
    catalog = SqliteCatalog(path)
    status = catalog.schema_status()
    catalog.close()
    assert (status.current, status.head, status.pending) == (HEAD, HEAD, ())
    before = _digests(tmp_path)
    catalog = SqliteCatalog(path)
    try:
        assert catalog.upgrade_schema().up_to_date
    finally:
        catalog.close()
    assert _digests(tmp_path) == before


# -- a catalog newer than this Hakiri ---------------------------------------------------------


def _openers(path: Path) -> Iterator[Any]:
    yield lambda: SqliteCatalog(path)
    yield lambda: SqliteCatalog(path, read_only=True)
    yield lambda: open_catalog(f"sqlite:///{path}")
    yield lambda: open_catalog(f"sqlite:///{path}?mode=ro")


def test_a_newer_catalog_is_refused_on_every_open_and_left_unchanged(tmp_path: Path) -> None:
    path = _newer_catalog(tmp_path)
    before = _digests(tmp_path)
    for opener in _openers(path):
        with pytest.raises(CatalogError, match=REFUSAL):
            opener()
        assert _digests(tmp_path) == before
    # The function the Postgres adapter calls refuses it the same way, inside a transaction.
    engine = _engine(f"sqlite:///{path}")
    with pytest.raises(CatalogError, match=REFUSAL), engine.begin() as conn:
        upgrade_schema(conn, where=str(path))
    with pytest.raises(CatalogError, match=REFUSAL), engine.connect() as conn:
        schema_status(conn, where=str(path))
    engine.dispose()
    assert _digests(tmp_path) == before


def _postgres_rows(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    with engine.connect() as conn:
        names = sorted(inspect(conn).get_table_names())
        return {
            name: sorted(map(tuple, conn.exec_driver_sql(f'SELECT * FROM "{name}"')), key=repr)
            for name in names
        }


def test_the_postgres_catalog_refuses_a_newer_catalog_unchanged(
    postgres_db: PostgresDatabase,
) -> None:
    pytest.importorskip("psycopg")
    url = _postgres(postgres_db, "postgres")
    catalog = open_catalog(url)
    catalog.create_run(run_record("r1"))
    catalog.close()
    engine = _engine(_postgres(postgres_db))
    with engine.begin() as conn:
        conn.exec_driver_sql(f"UPDATE alembic_version SET version_num = '{NEWER}'")
    before = _postgres_rows(engine)
    for opened in (url, url + "?mode=ro"):
        with pytest.raises(NewerCatalog, match=REFUSAL):
            open_catalog(opened)
    assert _postgres_rows(engine) == before
    engine.dispose()


def test_a_postgres_catalog_without_a_revision_is_adopted_at_the_baseline(
    postgres_db: PostgresDatabase,
) -> None:
    # What the Postgres adapter created before it used the revisions: metadata.create_all.
    pytest.importorskip("psycopg")
    engine = _engine(_postgres(postgres_db))
    metadata.create_all(engine)
    catalog = open_catalog(_postgres(postgres_db, "postgres"))
    try:
        assert isinstance(catalog, MigratedCatalog)
        assert catalog.schema_status().current == BASELINE
        catalog.create_run(run_record("r1"))
    finally:
        catalog.close()
    assert _diff(engine) == []
    engine.dispose()


# -- the CLI -----------------------------------------------------------------------------------


def _project(tmp_path: Path) -> Path:
    project = tmp_path / "project"
    write_manifest(project, "")
    return project


def test_hakiri_catalog_status_and_upgrade_on_a_catalog_written_before_migrations(
    tmp_path: Path,
) -> None:
    project = _project(tmp_path)
    path = _old_catalog(project / ".hakiri")
    url = f"sqlite:///{path.resolve()}"
    rows = _rows(path)

    status = run_hakiri("catalog", "status", "--json", cwd=project).check().json()
    assert status == {
        "catalog": url,
        "current": None,
        "head": HEAD,
        "pending": [],
        "before_alembic": True,
        "up_to_date": False,
    }
    text = run_hakiri("catalog", "status", cwd=project).check().stdout.splitlines()
    assert text == [
        f"catalog  {url}",
        "current  none (written before schema revisions)",
        f"head     {HEAD}",
        "out of date: an upgrade would adopt it at the baseline revision — run "
        "`hakiri catalog upgrade`",
    ]

    # From elsewhere, with --project.
    upgraded = run_hakiri("catalog", "upgrade", "--project", str(project), cwd=tmp_path).check()
    assert upgraded.stdout == (
        f"upgraded the catalog at {url} from none (written before schema revisions) to "
        f"{HEAD}: adopted it at the baseline revision\n"
    )
    after = _rows(path)
    assert after.pop("alembic_version") == [(HEAD,)]
    assert after == rows

    status = run_hakiri("catalog", "status", "--json", cwd=project).check().json()
    assert (status["current"], status["up_to_date"]) == (HEAD, True)
    assert run_hakiri("catalog", "status", cwd=project).check().stdout.endswith("up to date\n")
    before = _digests(path.parent)
    again = run_hakiri("catalog", "upgrade", cwd=project).check()
    assert again.stdout == f"the catalog at {url} is at the head revision {HEAD}: nothing to do\n"
    assert _digests(path.parent) == before


def test_hakiri_catalog_refuses_a_newer_catalog_in_one_line(tmp_path: Path) -> None:
    project = _project(tmp_path)
    path = _newer_catalog(project / ".hakiri")
    before = _digests(path.parent)
    for command in (["catalog", "status"], ["catalog", "upgrade"], ["pipeline", "list"]):
        result = run_hakiri(*command, cwd=project)
        assert result.returncode == 1, command
        assert result.stdout == ""
        lines = result.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith("error[catalog_error]: the catalog at ")
        assert NEWER in lines[0] and "upgrade hakiri" in lines[0]
    assert _digests(path.parent) == before


def test_hakiri_catalog_status_before_any_run_says_there_is_no_catalog(tmp_path: Path) -> None:
    project = _project(tmp_path)
    result = run_hakiri("catalog", "status", cwd=project)
    assert result.returncode != 0
    assert result.stderr.startswith("error[") and "hakiri run" in result.stderr
    assert not (project / ".hakiri" / "catalog.db").exists()


def test_hakiri_catalog_status_reads_a_postgres_catalog_only_and_upgrade_adopts_it(
    tmp_path: Path, postgres_db: PostgresDatabase
) -> None:
    pytest.importorskip("psycopg")
    url = _postgres(postgres_db, "postgres")
    project = tmp_path / "project"
    write_manifest(project, f'catalog = "{url}"\n')  # a key of the [project] table
    engine = _engine(_postgres(postgres_db))
    metadata.create_all(engine)  # as the adapter made it before the revisions

    status = run_hakiri("catalog", "status", "--json", cwd=project).check().json()
    assert (status["catalog"], status["before_alembic"], status["up_to_date"]) == (url, True, False)
    with engine.connect() as conn:
        assert not inspect(conn).has_table("alembic_version")  # status wrote nothing

    upgraded = run_hakiri("catalog", "upgrade", cwd=project).check()
    assert upgraded.stdout.startswith(f"upgraded the catalog at {url} from none")
    status = run_hakiri("catalog", "status", "--json", cwd=project).check().json()
    assert (status["current"], status["up_to_date"]) == (HEAD, True)
    engine.dispose()
