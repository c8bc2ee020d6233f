"""The store's data files, over the ``ObjectStore`` port: the one module that writes, lists
and deletes them, and that tells DuckDB where a file is.

Keys are the store layout's names (``context/<table>/<run_id>-<seq:06d>.parquet``, see
``hakiri.context.layout``). Today a store is a local directory (``LocalObjectStore``); a
store in a bucket is written the same way, but queried through a local copy (sync): DuckDB
reads files by local path, and only a local store has them.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from hakiri.context.layout import table_prefix
from hakiri.core.errors import StoreError
from hakiri.core.objectstore import LocalObjectStore

if TYPE_CHECKING:
    import pyarrow as pa

    from hakiri.context.parquet import ParquetFileInfo
    from hakiri.core.ports import ObjectInfo, ObjectStore

__all__ = ["TEMPORARY_GRACE", "StoreFiles"]

TEMPORARY_GRACE = 600.0
"""Seconds a local put's temporary file must have been left alone before a sweep that cannot
rule out a live writer removes it (see ``StoreFiles.remove_temporaries``)."""


class StoreFiles:
    """A store's data files as objects of ``objects``."""

    def __init__(self, objects: ObjectStore) -> None:
        self.objects = objects

    @classmethod
    def local(cls, store_root: Path) -> StoreFiles:
        """The files of the store in the directory ``store_root``."""
        return cls(LocalObjectStore(store_root))

    def write(self, key: str, data: pa.Table) -> ParquetFileInfo:
        """Write ``data`` as the Parquet file ``key``, all at once or not at all."""
        from hakiri.context.parquet import write_parquet

        return write_parquet(data, self.objects, key)

    def table_files(self, table: str) -> Iterator[ObjectInfo]:
        """Every file under ``table``'s directory, in key order (temporaries excluded)."""
        return self.objects.list(table_prefix(table) + "/")

    def delete(self, key: str) -> None:
        """Remove the file ``key``; a missing one is fine."""
        self.objects.delete(key)

    def remove_temporaries(self, table: str, *, writers_possible: bool) -> list[str]:
        """Delete what killed puts left in ``table``'s directory; return the store-relative
        paths removed. Only a local store leaves such files (a bucket keeps no half object).

        The caller holds the pipeline's lock, so a temporary normally belongs to a dead
        writer. ``writers_possible`` (the caller keeps files of live runs, which might be
        staging) spares a temporary written to in the last ``TEMPORARY_GRACE`` seconds:
        it carries no run id to tell whose it is, and a live put writes without pause and
        renames at once, so an idle one is dead.
        """
        if not isinstance(self.objects, LocalObjectStore):
            return []
        idle_for = TEMPORARY_GRACE if writers_possible else 0.0
        return list(self.objects.remove_temporaries(table_prefix(table) + "/", idle_for=idle_for))

    def local_path(self, key: str) -> str:
        """Where DuckDB reads the file ``key``: a path on this machine. Not checked here —
        callers that hand it to a query keep it inside the store's data directory."""
        if not isinstance(self.objects, LocalObjectStore):
            raise StoreError(
                f"queries need a local store, and {self.objects.url} is not one",
                hint="query a local copy of it (made by sync)",
            )
        return str(self.objects.root.joinpath(*key.split("/")))
