"""copy_catalog between SQL backends: everything copied and verified, or nothing at all.

The source catalog is filled through the Catalog port the way the runtime fills it (runs,
steps, commits with files and schema changes, a leased commit, a replace, events), so every
table of the schema holds rows. Each case runs SQLite → SQLite and, once the Postgres
adapter is installed, through a real Postgres server too.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from datetime import timedelta
from importlib.metadata import entry_points
from pathlib import Path

import pyarrow as pa
import pytest
from sqlalchemy import func, inspect, select, text

from hakiri.context.catalog import _schema, open_catalog
from hakiri.context.catalog._copy import ALEMBIC_VERSION, copy_catalog
from hakiri.context.catalog._sql import SqlCatalog
from hakiri.context.testing import (
    T0,
    commit_request,
    run_record,
    schema_of,
    staged_file,
    widened,
    worker_lease,
)
from hakiri.core.errors import CatalogError, ConfigError
from hakiri.core.plugins import CATALOGS_GROUP
from hakiri.core.records import RunStatus, StepRecord, WriteDisposition
from hakiri.testing.postgres import PostgresDatabase, PostgresServer

HAS_POSTGRES = "postgres" in entry_points(group=CATALOGS_GROUP).names


def _fill(url: str) -> None:
    """Every table of the catalog with rows, as runs leave them."""
    catalog = open_catalog(url)
    try:
        catalog.create_run(run_record("r1", pipeline="issues"))
        first = staged_file("context/issues/r1-0001.parquet")
        catalog.commit(commit_request("r1", files=(first,), cursor_value={"since": "2026-01-01"}))
        scored = staged_file(
            "context/issues/r1-0002.parquet",
            schema=schema_of(id=pa.int64(), name=pa.string(), score=pa.float64()),
        )
        catalog.commit(
            commit_request(
                "r1",
                files=(scored,),
                expected_version=1,
                schema_changes=(widened(),),
                finalize=True,
            )
        )
        catalog.finish_run("r1", RunStatus.SUCCEEDED, finished_at=T0 + timedelta(minutes=1))
        catalog.create_run(
            run_record("r2", pipeline="accounts", started_at=T0 + timedelta(hours=1))
        )
        catalog.record_step(StepRecord("r2", "pull:0", "pull", {"page": {"n": 1}}, T0))
        for n in range(3):
            catalog.commit(
                commit_request(
                    "r2",
                    pipeline="accounts",
                    table="accounts",
                    write=WriteDisposition.MERGE,
                    primary_key=("id",),
                    files=(staged_file(f"context/accounts/r2-{n:04d}.parquet", rows=n + 1),),
                    expected_version=n,
                    cursor_value=n,
                    lease=worker_lease(7, holder="worker-ä", pipeline="accounts"),
                    at=T0 + timedelta(hours=1, seconds=n),
                )
            )
        catalog.record_event(
            "accounts", "note", {"text": "ünïcode", "n": 1.5, "null": None}, run_id="r2", at=T0
        )
    finally:
        catalog.close()


def _counts(url: str) -> dict[str, int]:
    """Rows per catalog table, and the Alembic revision (as a count of 1) where there is one."""
    catalog = open_catalog(url)
    assert isinstance(catalog, SqlCatalog)
    try:
        with catalog._read() as conn:
            counts = {
                t.name: conn.execute(select(func.count()).select_from(t)).scalar_one()
                for t in _schema.metadata.sorted_tables
            }
            if inspect(conn).has_table(ALEMBIC_VERSION):
                revisions = conn.execute(text(f"select version_num from {ALEMBIC_VERSION}"))
                counts[f"{ALEMBIC_VERSION}:{','.join(r[0] for r in revisions)}"] = 1
            return counts
    finally:
        catalog.close()


def _catalog_rows(url: str) -> int:
    """Rows in the catalog's own tables (an empty catalog has its revision stamped)."""
    return sum(n for table, n in _counts(url).items() if not table.startswith(ALEMBIC_VERSION))


@pytest.fixture(params=["sqlite", "postgres"])
def new_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], str]]:
    """Make the URL of a new, empty catalog on the parametrised backend."""
    if request.param == "sqlite":
        yield lambda: f"sqlite:///{tmp_path / 'copy.db'}"
        return
    if not HAS_POSTGRES:
        pytest.skip("no Postgres catalog adapter installed yet")
    server: PostgresServer = request.getfixturevalue("postgres_server")
    made: list[PostgresDatabase] = []

    def make() -> str:
        made.append(server.create_database())
        return made[-1].url

    try:
        yield make
    finally:
        for database in made:
            server.drop_database(database)


def test_every_table_is_copied_and_verified(tmp_path: Path, new_url: Callable[[], str]) -> None:
    source = f"sqlite:///{tmp_path / 'source.db'}"
    _fill(source)
    middle = new_url()
    there = copy_catalog(source, middle, batch_rows=2)  # several batches per table
    back_url = f"sqlite:///{tmp_path / 'back.db'}"
    back = copy_catalog(middle, back_url)

    counts = _counts(source)
    assert all(counts.values()), counts  # the fixture reaches every table
    copied = {t.table: t.rows for t in there.tables}
    if ALEMBIC_VERSION in copied:  # the destination is at the source's revision
        assert copied.pop(ALEMBIC_VERSION) == 1
        assert [k for k in counts if k.startswith(ALEMBIC_VERSION)] == [
            k for k in _counts(middle) if k.startswith(ALEMBIC_VERSION)
        ]
    assert copied == {k: v for k, v in counts.items() if not k.startswith(ALEMBIC_VERSION)}
    assert [(t.table, t.rows, t.checksum) for t in back.tables] == [
        (t.table, t.rows, t.checksum) for t in there.tables
    ]
    assert _counts(back_url) == counts
    assert there.to_dict()["rows"] == sum(counts.values())

    # The copy is a working catalog: the next commit continues where the source was
    # (on Postgres, past the copied ids of the id sequences).
    catalog = open_catalog(middle)
    try:
        cursor = catalog.get_cursor("accounts")
        assert cursor is not None and cursor.value == 2
        result = catalog.commit(
            commit_request(
                "r2",
                pipeline="accounts",
                table="accounts",
                write=WriteDisposition.MERGE,
                primary_key=("id",),
                files=(staged_file("context/accounts/r2-0009.parquet"),),
                expected_version=cursor.version,
                lease=worker_lease(7, holder="worker-ä", pipeline="accounts"),
                key="commit:9",
            )
        )
        assert [f.path for f in result.files] == ["context/accounts/r2-0009.parquet"]
        assert len(catalog.list_files("accounts")) == 4
        events = catalog.list_events("accounts")
        assert events[-1].payload == {"text": "ünïcode", "n": 1.5, "null": None}
        added = catalog.record_event("accounts", "note", {}, run_id=None, at=T0)
        assert added.id > max(e.id for e in events)
        run = catalog.get_run("r1")
        assert run is not None and run.status is RunStatus.SUCCEEDED
    finally:
        catalog.close()


def test_a_destination_holding_a_project_is_refused_and_unchanged(
    tmp_path: Path, new_url: Callable[[], str]
) -> None:
    source = f"sqlite:///{tmp_path / 'source.db'}"
    _fill(source)
    destination = new_url()
    catalog = open_catalog(destination)
    catalog.create_run(run_record("theirs", pipeline="other"))
    catalog.close()
    before = _counts(destination)
    with pytest.raises(CatalogError) as info:
        copy_catalog(source, destination)
    assert "already holds a project" in info.value.one_line()
    assert "runs" in info.value.message and "empty database" in (info.value.hint or "")
    assert _counts(destination) == before


def test_memory_and_unknown_schemes_are_refused(tmp_path: Path) -> None:
    source = f"sqlite:///{tmp_path / 'source.db'}"
    _fill(source)
    with pytest.raises(ConfigError, match="only SQL catalogs can be copied"):
        copy_catalog(source, "memory://")
    with pytest.raises(ConfigError, match="mongo"):
        copy_catalog("mongo://db/x", source)
    with pytest.raises(CatalogError, match="no catalog at"):
        copy_catalog(f"sqlite:///{tmp_path / 'missing.db'}", f"sqlite:///{tmp_path / 'x.db'}")
    assert not (tmp_path / "missing.db").exists()


def _copy_into_trigger(tmp_path: Path, trigger: str) -> tuple[str, str]:
    """A filled source and an empty SQLite destination carrying ``trigger``: their URLs."""
    source = f"sqlite:///{tmp_path / 'source.db'}"
    _fill(source)
    path = tmp_path / "destination.db"
    open_catalog(f"sqlite:///{path}").close()
    con = sqlite3.connect(path)
    con.execute(trigger)
    con.commit()
    con.close()
    return source, f"sqlite:///{path}"


def test_a_failure_half_way_leaves_the_destination_empty(tmp_path: Path) -> None:
    # A destination constraint that refuses a row of the last table: everything before it
    # was inserted by then, and must be gone.
    source, destination = _copy_into_trigger(
        tmp_path,
        "CREATE TRIGGER refuse BEFORE INSERT ON events WHEN NEW.kind = 'note' "
        "BEGIN SELECT RAISE(ABORT, 'refused by the destination'); END",
    )
    with pytest.raises(CatalogError, match="refused by the destination"):
        copy_catalog(source, destination)
    assert _catalog_rows(destination) == 0


def test_a_mismatch_names_the_table_and_copies_nothing(tmp_path: Path) -> None:
    # A destination that silently changes what it stores.
    source, destination = _copy_into_trigger(
        tmp_path,
        "CREATE TRIGGER tamper AFTER INSERT ON runs "
        "BEGIN UPDATE runs SET host = 'elsewhere' WHERE run_id = NEW.run_id; END",
    )
    with pytest.raises(CatalogError) as info:
        copy_catalog(source, destination)
    assert "table 'runs' does not match its source" in info.value.message
    assert _catalog_rows(destination) == 0
