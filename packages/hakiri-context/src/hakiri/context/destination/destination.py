"""The context store as a destination: stage Parquet files, publish them through the catalog.

Staged files live at ``<store_root>/context/<table>/<run_id>-<seq:06d>.parquet``. They are
invisible until the catalog commit names them; ``prepare`` removes the ones nothing will
ever name (a crashed run's leftovers), which is what keeps a crash from leaking disk.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from hakiri.context.layout import CONTEXT_DIR, run_id_of, staged_path, table_prefix
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
    store_root: Path, catalog: Catalog, table: str, live_runs: set[str]
) -> list[str]:
    """Delete ``table``'s data files the catalog does not reference and no live run owns
    (a dead run's leftovers, a replaced generation); return their store-relative paths.

    The caller holds the pipeline's lock: every run not in ``live_runs`` is dead.
    """
    directory = store_root / table_prefix(table)
    if not directory.is_dir():
        return []
    referenced = catalog.referenced_paths(table)
    removed: list[str] = []
    for path in sorted(directory.rglob("*")):
        run_id = run_id_of(path.name)
        if run_id is None or not path.is_file():
            continue
        relative = path.relative_to(store_root).as_posix()
        if relative in referenced or run_id in live_runs:
            continue
        try:
            path.unlink()
        except FileNotFoundError:
            continue  # removed meanwhile (a concurrent prepare): the goal is met
        removed.append(relative)
    return removed


class ContextDestination(Closing):
    """Implements ``hakiri.core.ports.Destination`` over the host's store and catalog."""

    def __init__(self, host: Host) -> None:
        self._host = host

    @property
    def store_root(self) -> Path:
        return self._host.store_root

    def stage(self, table: str, data: pa.Table, *, run_id: str, seq: int) -> StagedFile:
        """Write ``data`` with the store's Parquet writer; readers cannot see it yet."""
        from hakiri.context.parquet import write_parquet
        from hakiri.core.schema import Schema

        relative = staged_path(table, run_id, seq)
        path = self.store_root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        info = write_parquet(data, path)
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
        return collect_unreferenced(self.store_root, self._host.catalog, table, live_runs)

    def close(self) -> None:
        """Nothing to release: the catalog belongs to the host."""
