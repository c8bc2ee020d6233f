"""One DuckDB view per catalog table, over exactly the files the catalog has published.

A file in the store directory that the catalog does not list is invisible, however it got
there: the views name their files explicitly, never a glob, and those names are the only
paths the locked-down connection may open.

Planning (``plan_store``: which SQL, which files) reads the catalog and is separate from
creating the views (``create_views``), so a sandboxed query process can be handed a plan
without ever opening the catalog itself.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from hakiri.context.layout import CONTEXT_DIR
from hakiri.core.records import FileRecord, SchemaVersion, TableRecord, WriteDisposition

if TYPE_CHECKING:
    import duckdb

    from hakiri.context.files import StoreFiles
    from hakiri.core.ports import Catalog

__all__ = [
    "CONTEXT_DIR",
    "StorePlan",
    "StoreViews",
    "TableView",
    "create_views",
    "first_line",
    "ident",
    "literal",
    "plan_store",
    "plan_view",
]


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
    empty_schema: bytes | None = None
    """For a table with no visible file yet: its Arrow schema (IPC bytes), so the view
    still has typed columns."""

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "sql": self.sql, "paths": list(self.paths)}
        if self.empty_schema is not None:
            out["empty_schema"] = base64.b64encode(self.empty_schema).decode("ascii")
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TableView:
        empty = data.get("empty_schema")
        return cls(
            name=data["name"],
            sql=data["sql"],
            paths=tuple(data["paths"]),
            empty_schema=base64.b64decode(empty) if empty is not None else None,
        )


@dataclass(frozen=True, slots=True)
class StorePlan:
    """Every readable table's view, and why the others cannot be read."""

    views: tuple[TableView, ...]
    problems: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"views": [v.to_json() for v in self.views], "problems": self.problems}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> StorePlan:
        views = tuple(TableView.from_json(v) for v in data["views"])
        return cls(views=views, problems=dict(data["problems"]))

    @property
    def fingerprint(self) -> str:
        """Equal for equal plans: a process that holds views of this plan may keep them."""
        text = json.dumps(self.to_json(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class StoreViews:
    """The views created: every file they read, and the tables that could not be read."""

    paths: list[str]
    problems: dict[str, str]


def plan_view(
    table: TableRecord,
    files: list[FileRecord],
    versions: list[SchemaVersion],
    store: StoreFiles,
) -> TableView | None:
    """The ``SELECT`` behind ``table``'s view; None when there is nothing to show at all.

    ``StoreError`` if ``store`` has no local files for DuckDB to read."""
    if not files:
        if not versions:
            return None
        schema = versions[-1].schema.to_arrow().serialize().to_pybytes()
        return TableView(table.name, None, empty_schema=schema)
    # Checked lexically, as the catalog names them: a view reads only the store's data
    # directory (the query sandbox opens nothing else; docs/query-safety.md).
    context = os.path.normpath(store.local_path(CONTEXT_DIR)) + os.sep
    paths = []
    for file in files:
        path = os.path.normpath(store.local_path(file.path))
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


def _empty_view_sql(con: duckdb.DuckDBPyConnection, schema: bytes) -> str | None:
    """``SELECT`` of typed NULL columns, no rows: a table whose files are not visible yet
    (a replace in progress) still has its columns."""
    import pyarrow as pa

    relation = con.from_arrow(pa.ipc.read_schema(pa.py_buffer(schema)).empty_table())
    columns = [
        f"CAST(NULL AS {kind}) AS {ident(column)}"
        for column, kind in zip(relation.columns, relation.types, strict=True)
    ]
    return f"SELECT {', '.join(columns)} WHERE false" if columns else None


def plan_store(catalog: Catalog, store: StoreFiles) -> StorePlan:
    """The view of every table of ``catalog`` over the files of ``store``; reads the
    catalog only."""
    views: list[TableView] = []
    problems: dict[str, str] = {}
    for table in catalog.list_tables():
        view = plan_view(
            table, catalog.list_files(table.name), catalog.schema_versions(table.name), store
        )
        if view is None:
            continue
        if view.sql is None and view.empty_schema is None:
            problems[table.name] = view.problem or "unreadable"
            continue
        views.append(view)
    return StorePlan(views=tuple(views), problems=problems)


def create_views(con: duckdb.DuckDBPyConnection, plan: StorePlan) -> StoreViews:
    """Create the views of ``plan`` on ``con``; a table that fails is listed, not raised."""
    from hakiri.context._duckdb import import_duckdb

    ddb = import_duckdb()
    problems = dict(plan.problems)
    paths: list[str] = []
    for view in plan.views:
        try:
            sql = view.sql
            if sql is None:
                sql = _empty_view_sql(con, view.empty_schema or b"")
            if sql is None:
                problems[view.name] = "the table has no columns"
                continue
            con.execute(f"CREATE VIEW {ident(view.name)} AS {sql}")
        except ddb.Error as exc:
            # A missing or corrupt file makes only its own table unreadable.
            problems[view.name] = first_line(exc)
            continue
        paths.extend(view.paths)
    return StoreViews(paths=paths, problems=problems)


def first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__
