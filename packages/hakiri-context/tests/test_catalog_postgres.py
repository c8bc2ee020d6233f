"""The Postgres catalog against a real server: the conformance suite (fencing included),
the URL form, read-only sessions, and what a lost connection leaves."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pyarrow as pa
import pytest

from hakiri.context.catalog import _commit, open_catalog
from hakiri.context.catalog.postgres import (
    PostgresCatalog,
    open_postgres_catalog,
    parse_postgres_url,
)
from hakiri.context.testing import (
    T0,
    CatalogConformance,
    commit_request,
    run_record,
    schema_of,
    staged_file,
)
from hakiri.core.clock import ManualClock
from hakiri.core.errors import CatalogError, CatalogNotFound, ConfigError, LeaseLost, SecretError
from hakiri.core.ports import Catalog
from hakiri.core.records import Lease
from hakiri.testing.postgres import PostgresDatabase


def _catalog_url(db: PostgresDatabase, query: str = "") -> str:
    # The fixture's URL is postgresql://; the manifest's documented form is postgres://.
    return "postgres://" + db.url.partition("://")[2] + query


class TestPostgresCatalog(CatalogConformance):
    @pytest.fixture
    def catalog(self, postgres_db: PostgresDatabase) -> Iterator[Catalog]:
        catalog = open_catalog(_catalog_url(postgres_db))
        yield catalog
        catalog.close()


def test_both_schemes_open_the_postgres_adapter(postgres_db: PostgresDatabase) -> None:
    for url in (_catalog_url(postgres_db), postgres_db.url):
        catalog = open_catalog(url)
        try:
            assert isinstance(catalog, PostgresCatalog)
        finally:
            catalog.close()


def test_expiry_is_judged_by_the_catalogs_clock(postgres_db: PostgresDatabase) -> None:
    parsed, _, _ = parse_postgres_url(_catalog_url(postgres_db))
    clock = ManualClock(T0)
    catalog = PostgresCatalog(parsed, clock=clock)
    try:
        catalog.create_run(run_record("r1"))
        lease = Lease("issues", "w1", 3, T0 + timedelta(seconds=10))
        catalog.commit(commit_request("r1", lease=lease, at=T0 + timedelta(days=1)))
        clock.advance(timedelta(seconds=10))
        with pytest.raises(LeaseLost, match="expired"):
            catalog.commit(commit_request("r1", expected_version=1, lease=lease, at=T0))
    finally:
        catalog.close()


def test_a_second_open_finds_the_tables_and_the_data(postgres_db: PostgresDatabase) -> None:
    first = open_postgres_catalog(_catalog_url(postgres_db))
    try:
        first.create_run(run_record("r1"))
        first.commit(commit_request("r1", files=(staged_file("context/issues/a.parquet"),)))
    finally:
        first.close()
    second = open_postgres_catalog(_catalog_url(postgres_db))
    try:
        cursor = second.get_cursor("issues")
        assert cursor is not None and cursor.version == 1
        assert [f.path for f in second.list_files("issues")] == ["context/issues/a.parquet"]
    finally:
        second.close()


def test_read_only_mode_reads_and_refuses_every_write(postgres_db: PostgresDatabase) -> None:
    writer = open_postgres_catalog(_catalog_url(postgres_db))
    try:
        writer.create_run(run_record("r1"))
    finally:
        writer.close()
    reader = open_catalog(_catalog_url(postgres_db, "?mode=ro"))
    try:
        run = reader.get_run("r1")
        assert run is not None
        with pytest.raises(CatalogError, match="read-only transaction"):
            reader.create_run(run_record("r2"))
        with pytest.raises(CatalogError, match="read-only transaction"):
            reader.commit(commit_request("r1"))
    finally:
        reader.close()
    assert postgres_db.fetch("SELECT count(*) FROM cursors") == [(0,)]


def test_read_only_mode_creates_nothing(postgres_db: PostgresDatabase) -> None:
    # An empty database is no catalog yet: a reader says so and creates nothing.
    with pytest.raises(CatalogNotFound, match="no Hakiri catalog in .* yet"):
        open_catalog(_catalog_url(postgres_db, "?mode=ro"))
    tables = "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"
    assert postgres_db.fetch(tables) == [(0,)]


def test_the_password_comes_from_a_secret_and_is_never_printed(
    postgres_db: PostgresDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    postgres_db.execute("CREATE ROLE hakiri_writer LOGIN PASSWORD 'hunter2-secret'")
    postgres_db.execute(f'GRANT ALL ON DATABASE "{postgres_db.name}" TO hakiri_writer')
    postgres_db.execute("GRANT ALL ON SCHEMA public TO hakiri_writer")
    host = postgres_db.url.partition("@")[2]
    url = f"postgres://hakiri_writer@{host}?password=secret://HK_CATALOG_PW&sslmode=disable"
    monkeypatch.delenv("HK_CATALOG_PW", raising=False)
    with pytest.raises(SecretError, match="HK_CATALOG_PW"):
        open_catalog(url)
    monkeypatch.setenv("HK_CATALOG_PW", "hunter2-secret")
    catalog = open_catalog(url)
    try:
        catalog.create_run(run_record("r1"))
        assert "hunter2" not in repr(catalog)
    finally:
        catalog.close()
        postgres_db.execute("DROP OWNED BY hakiri_writer; DROP ROLE hakiri_writer")


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("postgres://u:hunter2@db.example/hk", "holds a password"),
        ("postgres://u@db.example/hk?password=hunter2", "must be a secret://NAME"),
        ("postgres://u@db.example", "names no database"),
        ("postgres://u@db.example/hk?mode=rwc", "mode must be ro or rw"),
    ],
)
def test_bad_urls_are_refused_without_printing_a_password(url: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        parse_postgres_url(url)
    assert "hunter2" not in caught.value.one_line()


def test_tls_and_other_libpq_options_pass_through() -> None:
    parsed, secret, read_only = parse_postgres_url(
        "postgres://u@db.example:6543/hk?sslmode=verify-full&sslrootcert=/etc/ca.pem"
        "&password=secret://PG_PW&mode=ro"
    )
    assert parsed.drivername == "postgresql+psycopg"
    assert (parsed.host, parsed.port, parsed.database) == ("db.example", 6543, "hk")
    assert dict(parsed.query) == {"sslmode": "verify-full", "sslrootcert": "/etc/ca.pem"}
    assert (secret, read_only) == ("PG_PW", True)


def test_sessions_run_in_utc_with_bounded_lock_waits(postgres_db: PostgresDatabase) -> None:
    catalog = open_postgres_catalog(_catalog_url(postgres_db, "?keepalives_idle=7"))
    try:
        with catalog._engine.connect() as conn:  # noqa: SLF001 - the sessions it opens
            settings = [
                conn.exec_driver_sql(f"SHOW {name}").scalar()
                for name in ("TimeZone", "idle_in_transaction_session_timeout", "lock_timeout")
            ]
            info = conn.connection.dbapi_connection.info  # type: ignore[union-attr]
            dsn = dict(item.split("=", 1) for item in info.dsn.split())
        assert settings == ["UTC", "1min", "90s"]
        # The defaults for a vanished peer, unless the URL gives its own.
        assert (dsn["keepalives_idle"], dsn["keepalives_count"]) == ("7", "3")
    finally:
        catalog.close()


def test_an_unreachable_server_is_one_line(postgres_db: PostgresDatabase) -> None:
    host = postgres_db.url.partition("@")[2].partition(":")[0]
    with pytest.raises(CatalogError, match="cannot open the Postgres catalog") as caught:
        open_catalog(f"postgres://postgres@{host}:1/nothing?connect_timeout=2")
    assert "\n" not in caught.value.one_line()


def test_a_connection_killed_mid_commit_leaves_none_of_it(
    postgres_db: PostgresDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    catalog = open_postgres_catalog(_catalog_url(postgres_db))
    try:
        catalog.create_run(run_record("r1"))
        catalog.commit(commit_request("r1", files=(staged_file("context/issues/a.parquet"),)))

        def cut_the_connection(name: str) -> None:
            # Half-way through the commit's writes (its files, schema version and events
            # are in; step, counters and cursor are not), the server ends the session as a
            # restart or a network cut would.
            if name == "inside_commit":
                postgres_db.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND state = 'idle in transaction'"
                )

        monkeypatch.setattr(_commit, "failpoint", cut_the_connection)
        files = (staged_file("context/issues/b.parquet", schema=schema_of(score=pa.int32())),)
        with pytest.raises(CatalogError, match="catalog database error") as caught:
            catalog.commit(commit_request("r1", expected_version=1, files=files))
        assert "connection to the catalog was lost" in caught.value.one_line()
        assert "\n" not in caught.value.one_line()
        monkeypatch.undo()
        cursor = catalog.get_cursor("issues")  # the pool replaces the dead connection
        assert cursor is not None and cursor.version == 1
        assert [f.path for f in catalog.list_files("issues")] == ["context/issues/a.parquet"]
        assert [v.version for v in catalog.schema_versions("issues")] == [1]
        run = catalog.get_run("r1")
        assert run is not None and run.files == 1
        assert [s.key for s in catalog.list_steps("r1")] == ["commit:0"]
    finally:
        catalog.close()
