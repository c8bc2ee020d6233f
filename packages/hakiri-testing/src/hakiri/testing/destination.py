"""An in-memory destination for executor tests: staged tables in a dict, published through a
real catalog (the in-memory one, usually)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hakiri.core.ports import Catalog
from hakiri.core.records import CommitRequest, CommitResult, StagedFile
from hakiri.core.schema import Schema

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["MemoryDestination"]


class MemoryDestination:
    """Keeps staged tables in ``files`` (by path); publishes through ``catalog``
    (implements ``hakiri.core.ports.Destination``)."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.files: dict[str, pa.Table] = {}

    def prepare(self, table: str, *, live_runs: set[str]) -> list[str]:
        """Drop every staged table the catalog does not reference; returns their paths."""
        referenced = self.catalog.referenced_paths(table)
        garbage = [path for path in self.files if path not in referenced]
        for path in garbage:
            del self.files[path]
        return garbage

    def stage(self, table: str, data: pa.Table, *, run_id: str, seq: int) -> StagedFile:
        path = f"context/{table}/{run_id}-{seq:06d}.parquet"
        self.files[path] = data
        return StagedFile(path, data.num_rows, 1, f"sha256:{seq}", Schema.from_arrow(data.schema))

    def commit(self, request: CommitRequest) -> CommitResult:
        return self.catalog.commit(request)

    def close(self) -> None:
        pass

    def rows(self, table: str) -> list[dict[str, Any]]:
        """The rows readers of ``table`` see now, file by file in the catalog's order."""
        rows: list[dict[str, Any]] = []
        for record in self.catalog.list_files(table):
            rows.extend(self.files[record.path].to_pylist())
        return rows
