"""One DuckDB view per catalog table, over exactly the files the catalog has published.

A file in the store directory that the catalog does not list is invisible, however it got
there: the views name their files explicitly, never a glob, and those names are the only
paths the locked-down connection may open.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from hakiri.core.records import FileRecord, SchemaVersion, TableRecord, WriteDisposition

if TYPE_CHECKING:
    import duckdb

    from hakiri.core.ports import Catalog

__all__ = [
    "CONTEXT_DIR",
    "StoreViews",
    "TableView",
    "create_views",
    "first_line",
    "ident",
    "literal",
    "plan_view",
]

CONTEXT_DIR = "context"
"""The store's data directory: the only place a query may read."""

# DuckDB exposes these as virtual columns of read_parquet; a data column of the same name
# shadows them, which would silently reorder "newest wins".
_VIRTUAL = {"file_index", "file_row_number"}


def ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


@dataclass(frozen=True, slots=True)
class TableView:
    """What a table's view reads, or why it cannot be read (``sql`` is None then)."""

    name: str
    sql: str | None
    problem: str | None = None
    paths: tuple[str, ...] = ()
    """The absolute paths of the files the view reads."""


@dataclass(frozen=True, slots=True)
class StoreViews:
    """The views created: every file they read, and the tables that could not be read."""

    paths: list[str]
    problems: dict[str, str]


def plan_view(
    table: TableRecord,
    files: list[FileRecord],
    versions: list[SchemaVersion],
    store_root: Path,
) -> TableView | None:
    """The ``SELECT`` behind ``table``'s view; None when there is nothing to show at all."""
    if not files:
        return _empty_view(table.name, versions[-1]) if versions else None
    context = os.path.join(str(store_root), CONTEXT_DIR) + os.sep
    paths = []
    for file in files:
        path = os.path.normpath(os.path.join(str(store_root), file.path))
        if not path.startswith(context):
            problem = f"file {file.path!r} lies outside the store's {CONTEXT_DIR}/ directory"
            return TableView(table.name, None, problem)
        paths.append(path)
    if table.write is not WriteDisposition.MERGE or not table.primary_key:
        return TableView(table.name, f"SELECT * FROM {_read_parquet(paths)}", paths=tuple(paths))
    used = {f.schema_version for f in files}
    columns = {f.name for v in versions if v.version in used for f in v.schema.fields}
    sql = _newest_per_key(paths, table.primary_key, columns)
    return TableView(table.name, sql, paths=tuple(paths))


def _file_list(paths: list[str]) -> str:
    return f"[{', '.join(literal(p) for p in paths)}]"


def _read_parquet(paths: list[str], *options: str) -> str:
    settings = ", ".join(("union_by_name = true", *options))
    return f"read_parquet({_file_list(paths)}, {settings})"


def _newest_per_key(paths: list[str], primary_key: tuple[str, ...], columns: set[str]) -> str:
    """Merge semantics at read time: per key, the row of the latest file wins, and within
    a file the last row."""
    keys = ", ".join(ident(k) for k in primary_key)
    if not columns & _VIRTUAL:
        # file_index follows the order of the file list, which is commit order.
        newest = f"PARTITION BY {keys} ORDER BY file_index DESC, file_row_number DESC"
        return f"SELECT * FROM {_read_parquet(paths)} QUALIFY row_number() OVER ({newest}) = 1"
    # The data shadows the virtual columns: number the files through an added filename
    # column instead (row order within one file is then unknown).
    tag = "__hakiri_file"
    while tag in columns:
        tag += "_"
    source = _read_parquet(paths, f"filename = {literal(tag)}")
    newest = f"PARTITION BY {keys} ORDER BY list_position({_file_list(paths)}, {ident(tag)}) DESC"
    return f"SELECT * EXCLUDE ({ident(tag)}) FROM {source} QUALIFY row_number() OVER ({newest}) = 1"


def _empty_view(name: str, version: SchemaVersion) -> TableView:
    """A table whose files are not visible yet (a replace in progress) still has columns."""
    from hakiri.context._duckdb import import_duckdb

    ddb = import_duckdb()
    probe = ddb.connect(":memory:")
    try:
        relation = probe.from_arrow(version.schema.to_arrow().empty_table())
        columns = [
            f"CAST(NULL AS {kind}) AS {ident(column)}"
            for column, kind in zip(relation.columns, relation.types, strict=True)
        ]
    finally:
        probe.close()
    if not columns:
        return TableView(name, None, "the table has no columns")
    return TableView(name, f"SELECT {', '.join(columns)} WHERE false")


def create_views(con: duckdb.DuckDBPyConnection, catalog: Catalog, store_root: Path) -> StoreViews:
    """Create a view per readable table of ``catalog`` on ``con``."""
    from hakiri.context._duckdb import import_duckdb

    ddb = import_duckdb()
    problems: dict[str, str] = {}
    paths: list[str] = []
    for table in catalog.list_tables():
        view = plan_view(
            table, catalog.list_files(table.name), catalog.schema_versions(table.name), store_root
        )
        if view is None:
            continue
        if view.sql is None:
            problems[table.name] = view.problem or "unreadable"
            continue
        try:
            con.execute(f"CREATE VIEW {ident(table.name)} AS {view.sql}")
        except ddb.Error as exc:
            # A missing or corrupt file makes only its own table unreadable.
            problems[table.name] = first_line(exc)
            continue
        paths.extend(view.paths)
    return StoreViews(paths=paths, problems=problems)


def first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__
