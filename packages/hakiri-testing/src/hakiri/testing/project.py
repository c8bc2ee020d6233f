"""Write small projects for tests, and take fingerprints of a store to prove it unchanged."""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Collection
from pathlib import Path

__all__ = [
    "issues_pipeline",
    "store_fingerprint",
    "write_manifest",
    "write_orders_project",
]


def write_manifest(
    root: Path, body: str, *, name: str = "test_project", catalog: str | None = None
) -> Path:
    """Create ``root/hakiri.toml`` with a ``[project]`` table (its ``catalog`` URL when
    given) and ``body`` after it."""
    root.mkdir(parents=True, exist_ok=True)
    path = root / "hakiri.toml"
    project = f'[project]\nname = "{name}"\n' + (f'catalog = "{catalog}"\n' if catalog else "")
    path.write_text(f"{project}\n{body}", encoding="utf-8")
    return path


def write_orders_project(root: Path, *, catalog: str | None = None) -> Path:
    """A project ``root`` with one file pipeline, ``orders``, over ``data/orders.csv`` (two
    rows, ``total`` summing to 12.5), its catalog at ``catalog`` when given."""
    (root / "data").mkdir(parents=True, exist_ok=True)
    (root / "data" / "orders.csv").write_text("id,total\n1,9.5\n2,3.0\n", encoding="utf-8")
    body = '[pipelines.orders.source]\nconnector = "file"\npath = "data/*.csv"\n'
    write_manifest(root, body, catalog=catalog)
    return root


def issues_pipeline(
    api_url: str, *, per_page: int = 10, chunk_rows: int = 20, incremental: bool = False
) -> str:
    """The crash-safety tests' pipeline ``issues``: the demo API's ``/issues`` in pages of
    ``per_page`` (Link pagination), appended, committed every ``chunk_rows`` rows; with
    ``incremental``, by ``updated_at`` through ``since``."""
    cursor = (
        '\nincremental = { cursor_field = "updated_at", param = "since" }' if incremental else ""
    )
    return f"""[pipelines.issues]
chunk_rows = {chunk_rows}

[pipelines.issues.source]
connector = "http"
url = "{api_url}/issues"
params = {{ style = "link", per_page = {per_page} }}
pagination = {{ kind = "link_header" }}{cursor}

[pipelines.issues.destination]
write = "append"
"""


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
