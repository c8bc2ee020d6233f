"""Both catalog adapters pass the same conformance suite."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from hakiri.context.catalog.memory import MemoryCatalog
from hakiri.context.catalog.sqlite import SqliteCatalog
from hakiri.context.testing import (
    CatalogConformance,
    commit_request,
    run_record,
    staged_file,
)
from hakiri.core.ports import Catalog


class TestSqliteCatalog(CatalogConformance):
    @pytest.fixture
    def catalog(self, tmp_path: Path) -> Iterator[Catalog]:
        catalog = SqliteCatalog(tmp_path / "store" / "catalog.db")
        yield catalog
        catalog.close()


class TestMemoryCatalog(CatalogConformance):
    @pytest.fixture
    def catalog(self) -> Iterator[Catalog]:
        catalog = MemoryCatalog()
        yield catalog
        catalog.close()


def test_another_sqlite_instance_sees_the_committed_state(tmp_path: Path) -> None:
    path = tmp_path / "catalog.db"
    writer = SqliteCatalog(path)
    try:
        writer.create_run(run_record("r1"))
        files = (staged_file("context/issues/a.parquet"),)
        writer.commit(commit_request("r1", files=files, cursor_value={"since": 5}))
    finally:
        writer.close()
    reader = SqliteCatalog(path)
    try:
        cursor = reader.get_cursor("issues")
        assert cursor is not None and (cursor.version, cursor.value) == (1, {"since": 5})
        assert [f.path for f in reader.list_files("issues")] == ["context/issues/a.parquet"]
        run = reader.get_run("r1")
        assert run is not None and run.files == 1
    finally:
        reader.close()
