"""The store's layout, in one place: where the catalog and each table's files live, and how
a data file is named (``<store>/context/<table>/<run_id>-<seq:06d>.parquet``).

Paths here are store-relative with forward slashes — the keys an object store would use —
so the same names hold for a local directory and a bucket.
"""

from __future__ import annotations

import re

from hakiri.core.errors import StoreError

__all__ = [
    "CATALOG_FILE",
    "CONTEXT_DIR",
    "check_table",
    "run_id_of",
    "staged_path",
    "table_prefix",
]

CATALOG_FILE = "catalog.db"
"""The local SQLite catalog, at the store's root (core's manifest defaults to it too)."""

CONTEXT_DIR = "context"
"""The store's data directory: every table's files, and the only place a query may read."""
_TABLE = re.compile(r"[a-z_][a-z0-9_]{0,62}")
_SUFFIXES = (".parquet.tmp", ".parquet")


def staged_path(table: str, run_id: str, seq: int) -> str:
    """The store-relative path (forward slashes) of a run's ``seq``-th file of ``table``."""
    check_table(table)
    if (
        not run_id
        or "/" in run_id
        or "\\" in run_id
        or run_id.startswith(".")
        or not run_id.isprintable()
    ):
        raise StoreError(f"run id {run_id!r} cannot be part of a file name")
    if seq < 0:
        raise StoreError(f"file sequence number must be >= 0, got {seq}")
    return f"{CONTEXT_DIR}/{table}/{run_id}-{seq:06d}.parquet"


def run_id_of(file_name: str) -> str | None:
    """The run that wrote a data file: the name's prefix before its last ``-``."""
    for suffix in _SUFFIXES:
        if file_name.endswith(suffix):
            stem = file_name[: -len(suffix)]
            run_id, dash, _ = stem.rpartition("-")
            return run_id if dash else None
    return None


def check_table(table: str) -> str:
    """``table`` if it can name a directory of the store; ``StoreError`` otherwise."""
    if not _TABLE.fullmatch(table):
        raise StoreError(f"table name {table!r} is not a valid identifier")
    return table


def table_prefix(table: str) -> str:
    """The store-relative directory of ``table``'s files."""
    return f"{CONTEXT_DIR}/{check_table(table)}"
