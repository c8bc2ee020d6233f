"""The context store as a destination: stage Parquet files, publish them through the catalog.

Staged files are the objects ``context/<table>/<run_id>-<seq:06d>.parquet`` of the store,
written through ``hakiri.context.files``. They are invisible until the catalog commit names
them; ``prepare`` removes the ones nothing will ever name (a crashed run's leftovers), which
is what keeps a crash from leaking disk.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from hakiri.context.files import StoreFiles
from hakiri.context.layout import CONTEXT_DIR, run_id_of, staged_path
from hakiri.core.closing import Closing
from hakiri.core.ports import Catalog, Host
from hakiri.core.records import CommitRequest, CommitResult, StagedFile

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = [
    "CONTEXT_DIR",
    "ContextDestination",
    "collect_unreferenced",
    "run_id_of",
    "staged_path",
]


def collect_unreferenced(
    files: StoreFiles, catalog: Catalog, table: str, live_runs: set[str]
) -> list[str]:
    """Delete ``table``'s data files the catalog does not reference and no live run owns
    (a dead run's leftovers, a replaced generation), and what killed puts left there; return
    their store-relative paths, sorted.

    The caller holds the pipeline's lock: every run not in ``live_runs`` is dead.
    """
    referenced = catalog.referenced_paths(table)
    removed: list[str] = []
    for info in files.table_files(table):
        # ``<name>.parquet.tmp`` (the writer before the object store) has a run id too.
        run_id = run_id_of(info.key.rpartition("/")[2])
        if run_id is None or info.key in referenced or run_id in live_runs:
            continue
        files.delete(info.key)  # gone meanwhile (a concurrent prepare) is fine
        removed.append(info.key)
    removed += files.remove_temporaries(table, writers_possible=bool(live_runs))
    return sorted(removed)


class ContextDestination(Closing):
    """Implements ``hakiri.core.ports.Destination`` over the host's store and catalog."""

    def __init__(self, host: Host, files: StoreFiles | None = None) -> None:
        self._host = host
        self._files = files

    @property
    def store_root(self) -> Path:
        return self._host.store_root

    @property
    def files(self) -> StoreFiles:
        """The store's files (by default the directory ``store_root``), opened on first use:
        committing alone touches no file."""
        if self._files is None:
            self._files = StoreFiles.local(self.store_root)
        return self._files

    def stage(self, table: str, data: pa.Table, *, run_id: str, seq: int) -> StagedFile:
        """Write ``data`` with the store's Parquet writer; readers cannot see it yet."""
        from hakiri.core.schema import Schema

        relative = staged_path(table, run_id, seq)
        info = self.files.write(relative, data)
        return StagedFile(
            path=relative,
            rows=info.rows,
            bytes=info.bytes,
            checksum=info.checksum,
            schema=Schema.from_arrow(data.schema),
        )

    def commit(self, request: CommitRequest) -> CommitResult:
        """Publish the staged files and move the cursor in one catalog transaction."""
        return self._host.catalog.commit(request)

    def prepare(self, table: str, *, live_runs: set[str]) -> list[str]:
        """Delete ``table``'s data files that the catalog does not reference and that no
        live run owns; return their store-relative paths, sorted."""
        return collect_unreferenced(self.files, self._host.catalog, table, live_runs)

    def close(self) -> None:
        """Nothing to release: the catalog belongs to the host."""
