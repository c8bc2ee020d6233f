"""Write small projects for tests, and take fingerprints of a store to prove it unchanged."""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Collection
from pathlib import Path

__all__ = ["store_fingerprint", "write_manifest"]


def write_manifest(root: Path, body: str, *, name: str = "test_project") -> Path:
    """Create ``root/hakiri.toml`` with a ``[project]`` table and ``body`` after it."""
    root.mkdir(parents=True, exist_ok=True)
    path = root / "hakiri.toml"
    path.write_text(f'[project]\nname = "{name}"\n\n{body}', encoding="utf-8")
    return path


def store_fingerprint(store: Path, *, catalog_tables: Collection[str] | None = None) -> str:
    """A digest of every catalog row and every file in the store (locks excepted).

    Two equal fingerprints mean nothing a reader could see, and nothing on disk, changed.
    ``catalog_tables`` limits the catalog part to those tables (e.g. the committed state —
    ``tables``, ``files``, ``schema_versions``, ``cursors`` — without a failed run's own
    ``runs`` row and events).
    """
    digest = hashlib.sha256()
    catalog = store / "catalog.db"
    if catalog.exists():
        con = sqlite3.connect(f"file:{catalog}?mode=ro", uri=True)
        try:
            tables = [
                row[0]
                for row in con.execute(
                    "select name from sqlite_master where type = 'table' order by name"
                )
            ]
            for table in tables:
                if catalog_tables is not None and table not in catalog_tables:
                    continue
                digest.update(table.encode())
                for row in con.execute(f'select * from "{table}" order by 1'):
                    digest.update(repr(row).encode())
        finally:
            con.close()
    for path in sorted(store.rglob("*")):
        relative = path.relative_to(store)
        if (
            path.is_file()
            and relative.parts[0] not in ("locks",)
            and path.suffix
            not in (
                ".db",
                ".db-wal",
                ".db-shm",
            )
        ):
            digest.update(str(relative).encode())
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()
