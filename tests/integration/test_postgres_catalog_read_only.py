"""What reads a store never writes its catalog, a Postgres one too: ``hakiri pipeline
list``, ``hakiri query`` and ``hakiri pipeline describe`` open ``catalog = "postgres://…"``
with ``mode=ro`` (``hakiri.core.plugins.read_only_catalog_url``), so pointed at an empty
database they create no table, and over a populated one they change no row."""

from __future__ import annotations

from pathlib import Path

from hakiri.core.plugins import read_only_catalog_url
from hakiri.testing.cli import run_hakiri
from hakiri.testing.postgres import PostgresDatabase
from hakiri.testing.project import write_orders_project


def _catalog_url(database: PostgresDatabase) -> str:
    return "postgres://" + database.url.partition("://")[2]


_TABLES = "select count(*) from information_schema.tables where table_schema = 'public'"


def test_reading_an_empty_postgres_catalog_creates_nothing(
    tmp_path: Path, postgres_db: PostgresDatabase
) -> None:
    project = write_orders_project(tmp_path, catalog=_catalog_url(postgres_db))
    listed = run_hakiri("pipeline", "list", cwd=project)
    assert listed.returncode == 0, listed.stderr
    assert "orders" in listed.stdout
    queried = run_hakiri("query", "select 1", cwd=project)
    assert queried.returncode != 0
    assert len(queried.stderr.strip().splitlines()) == 1, queried.stderr
    assert postgres_db.fetch(_TABLES) == [(0,)]


def test_reading_a_postgres_catalog_changes_no_row(
    tmp_path: Path, postgres_db: PostgresDatabase
) -> None:
    project = write_orders_project(tmp_path, catalog=_catalog_url(postgres_db))
    run_hakiri("run", "orders", cwd=project).check()
    before = postgres_db.fetch("select run_id, status, finished_at from runs order by run_id")
    total = run_hakiri("query", "select sum(total) from orders", "--format", "json", cwd=project)
    assert total.check().json()["rows"] == [[12.5]]
    run_hakiri("pipeline", "describe", "orders", cwd=project).check()
    run_hakiri("pipeline", "list", cwd=project).check()
    after = postgres_db.fetch("select run_id, status, finished_at from runs order by run_id")
    assert after == before


def test_read_only_urls() -> None:
    assert read_only_catalog_url("sqlite:////s/catalog.db") == "sqlite:////s/catalog.db?mode=ro"
    assert read_only_catalog_url("postgres://u@h/db?sslmode=require&mode=rw") == (
        "postgres://u@h/db?sslmode=require&mode=ro"
    )
    assert read_only_catalog_url("postgres://u@h/db?mode=ro") == "postgres://u@h/db?mode=ro"
    assert read_only_catalog_url("memory://shared") == "memory://shared"
