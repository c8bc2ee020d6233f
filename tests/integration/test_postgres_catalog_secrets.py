"""A Postgres catalog's password is a project secret like any other: ``?password=
secret://NAME`` resolves from the environment or from the project's ``.env``, for every
command that opens the catalog (run, query, pipeline list, catalog status) — and never
shows up in what they print."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from hakiri.testing.cli import run_hakiri
from hakiri.testing.postgres import PostgresDatabase
from hakiri.testing.project import write_orders_project

PASSWORD = "s3cr3t-catalog-pw"


@pytest.fixture
def writer(postgres_db: PostgresDatabase) -> Iterator[str]:
    """A login role for the catalog; its URL (password by secret://HK_TEST_CATALOG_PW)."""
    postgres_db.execute(f"CREATE ROLE hakiri_catalog LOGIN PASSWORD '{PASSWORD}'")
    postgres_db.execute(f'GRANT ALL ON DATABASE "{postgres_db.name}" TO hakiri_catalog')
    postgres_db.execute("GRANT ALL ON SCHEMA public TO hakiri_catalog")
    host = postgres_db.url.partition("@")[2]
    yield f"postgres://hakiri_catalog@{host}?password=secret://HK_TEST_CATALOG_PW"
    postgres_db.execute("DROP OWNED BY hakiri_catalog; DROP ROLE hakiri_catalog")


def test_the_catalog_password_comes_from_the_projects_dotenv(tmp_path: Path, writer: str) -> None:
    assert "HK_TEST_CATALOG_PW" not in os.environ
    project = write_orders_project(tmp_path, catalog=writer)

    missing = run_hakiri("run", "orders", cwd=project)
    assert missing.returncode != 0
    assert "error[secret_missing]" in missing.stderr and "HK_TEST_CATALOG_PW" in missing.stderr
    assert len(missing.stderr.strip().splitlines()) == 1, missing.stderr

    (project / ".env").write_text(f"HK_TEST_CATALOG_PW={PASSWORD}\n", encoding="utf-8")
    outputs = [
        run_hakiri("run", "orders", cwd=project).check(),
        run_hakiri("query", "select sum(total) from orders", "--format", "json", cwd=project),
        run_hakiri("pipeline", "list", cwd=project).check(),
        run_hakiri("catalog", "status", cwd=project).check(),
    ]
    assert outputs[1].check().json()["rows"] == [[12.5]]
    for result in outputs:
        assert PASSWORD not in result.stdout + result.stderr
