"""The library API over a context store, for notebooks, scripts and agents.

Example::

    import hakiri.context as hc

    with hc.open_store("path/to/project") as store:
        store.tables()
        store.to_polars("select state, count(*) from issues group by all")
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hakiri.context._views import plan_store
from hakiri.context.catalog import catalog_scheme, open_catalog
from hakiri.context.files import StoreFiles
from hakiri.context.layout import CATALOG_FILE
from hakiri.context.query import (
    DEFAULT_LIMIT,
    DEFAULT_TIMEOUT,
    QueryConnection,
    QueryResult,
    open_connection,
)
from hakiri.core.closing import Closing
from hakiri.core.errors import StoreError, UnknownTable
from hakiri.core.plugins import read_only_catalog_url
from hakiri.core.records import CatalogEvent, SchemaVersion, TableRecord
from hakiri.core.schema import Schema

if TYPE_CHECKING:
    import duckdb
    import polars
    import pyarrow as pa

    from hakiri.core.ports import Catalog, SecretResolver
    from hakiri.core.query_limits import QueryLimits

__all__ = [
    "CATALOG_FILE",
    "ContextStore",
    "StoreLocation",
    "TableSchema",
    "existing_catalog_url",
    "locate_store",
    "open_store",
]


@dataclass(frozen=True, slots=True)
class TableSchema:
    """A table's current schema and policy, every version it has had, and the catalog's
    events about it: ``schema_version`` (a new version) and ``schema_decision`` (what the
    policy did with a changed column; see docs/schema-evolution.md)."""

    table: TableRecord
    schema: Schema | None
    """The latest version's schema; None before the first file is committed."""
    versions: list[SchemaVersion]
    events: list[CatalogEvent]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready description (no Arrow bytes), e.g. for ``context.schema``."""
        return {
            "table": self.table.name,
            "pipeline": self.table.pipeline,
            "write": self.table.write.value,
            "primary_key": list(self.table.primary_key),
            "schema_policy": self.table.schema_policy.value,
            "schema_version": self.table.schema_version,
            "columns": [f.to_dict() for f in self.schema.fields] if self.schema else [],
            "versions": [
                {
                    "version": v.version,
                    "fingerprint": v.schema.fingerprint,
                    "columns": [f.to_dict() for f in v.schema.fields],
                    "run_id": v.run_id,
                    "created_at": v.created_at.isoformat(),
                }
                for v in self.versions
            ],
            "events": [
                {
                    "id": e.id,
                    "kind": e.kind,
                    "payload": e.payload,
                    "run_id": e.run_id,
                    "at": e.at.isoformat(),
                }
                for e in self.events
            ],
        }


class ContextStore(Closing):
    """An open context store: its catalog (read-only) and, once queried, a DuckDB
    connection over its committed files.

    Queries see the store as it was at the first query; ``refresh()`` picks up later
    commits.
    """

    def __init__(self, root: Path, catalog: Catalog) -> None:
        self.root = root
        self.catalog = catalog
        self._connection: QueryConnection | None = None
        self._closed = False

    # -- the catalog ------------------------------------------------------------------------

    def tables(self) -> list[TableRecord]:
        """Every table the catalog knows, by name."""
        return self.catalog.list_tables()

    def schema(self, table: str) -> TableSchema:
        """``table``'s latest schema, its policy, its schema versions and its events (what
        the agent surface returns as ``context.schema``)."""
        record = self.catalog.get_table(table)
        if record is None:
            known = ", ".join(t.name for t in self.catalog.list_tables()) or "none yet"
            raise UnknownTable(f"no table named {table!r} in the store", hint=f"tables: {known}")
        versions = self.catalog.schema_versions(table)
        return TableSchema(
            table=record,
            schema=versions[-1].schema if versions else None,
            versions=versions,
            events=self.catalog.list_events(table),
        )

    # -- queries ----------------------------------------------------------------------------

    def query(
        self,
        sql: str,
        *,
        limit: int | None = DEFAULT_LIMIT,
        timeout: float | None = DEFAULT_TIMEOUT,
        max_bytes: int | None = None,
    ) -> QueryResult:
        """Run one read-only SELECT with a row limit, a timeout and a byte cap (None: no
        bound), in this process. For SQL you did not write, use ``hakiri.context.sandbox``."""
        return self._query_connection().run_query(
            sql, limit=limit, timeout=timeout, max_bytes=max_bytes
        )

    def sql(self, sql: str) -> duckdb.DuckDBPyRelation:
        """A lazy DuckDB relation for one read-only SELECT (no limit, no timeout).

        The SQL passes the same gate as ``query``; what you then do with the relation in
        Python (its ``write_*`` methods, say) is DuckDB's API and yours.
        """
        return self._query_connection().relation(sql)

    def to_arrow(self, sql: str, *, timeout: float | None = None) -> pa.Table:
        """Every row of one read-only SELECT, as an Arrow table."""
        return self.query(sql, limit=None, timeout=timeout).table

    def to_polars(self, sql: str, *, timeout: float | None = None) -> polars.DataFrame:
        """Every row of one read-only SELECT, as a Polars DataFrame (``polars`` extra)."""
        return self.query(sql, limit=None, timeout=timeout).to_polars()

    def refresh(self) -> None:
        """See commits made since the first query: the next query rebuilds the views."""
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()

    def _query_connection(self) -> QueryConnection:
        if self._closed:
            raise StoreError(f"the context store at {self.root} is closed")
        if self._connection is None:
            files = StoreFiles.local(self.root)
            self._connection = open_connection(plan_store(self.catalog, files))
        return self._connection

    # -- lifetime ---------------------------------------------------------------------------

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self.refresh()
        self.catalog.close()

    def __repr__(self) -> str:
        return f"ContextStore({str(self.root)!r})"


@dataclass(frozen=True, slots=True)
class StoreLocation:
    """Where a store and its catalog are, the bounds its queries run under, and what
    resolves the catalog URL's ``secret://`` references (the project's; None for a bare
    store directory, whose SQLite catalog has none)."""

    root: Path
    catalog_url: str
    query: QueryLimits
    secrets: SecretResolver | None = None


def locate_store(path: str | os.PathLike[str] = ".") -> StoreLocation:
    """The store of a project directory (holding ``hakiri.toml``) or of a store directory
    (holding ``catalog.db``, queried under the default bounds); ``StoreError`` otherwise."""
    from hakiri.core.manifest import MANIFEST_FILE, load_project
    from hakiri.core.query_limits import QueryLimits

    where = Path(path).resolve()
    if (where / MANIFEST_FILE).is_file():
        project = load_project(where)
        return StoreLocation(
            project.store_root, project.catalog_url, project.manifest.query, project.secrets()
        )
    if (where / CATALOG_FILE).is_file():
        return StoreLocation(where, f"sqlite:///{where / CATALOG_FILE}", QueryLimits())
    raise StoreError(
        f"no context store at {where}",
        hint=f"pass a project directory (with {MANIFEST_FILE}) or a store directory "
        f"(with {CATALOG_FILE})",
    )


def open_store(path: str | os.PathLike[str] = ".") -> ContextStore:
    """Open the context store of a project directory (holding ``hakiri.toml``) or a store
    directory (holding ``catalog.db``), for reading. Never creates anything."""
    location = locate_store(path)
    return _open(location)


def existing_catalog_url(root: Path, url: str, *, read_only: bool) -> str:
    """``url`` of a catalog that must already exist (``StoreError`` if a local one does not),
    made read-only when asked: reading or maintaining a store never creates one (a server
    catalog opened read-only creates no table either)."""
    if catalog_scheme(url) == "sqlite":
        from hakiri.context.catalog.sqlite import parse_sqlite_url

        path, _ = parse_sqlite_url(url)
        if not path.is_file():
            raise StoreError(
                f"no context store at {root} yet — run `hakiri run PIPELINE` first",
                store=str(root),
            )
    return read_only_catalog_url(url) if read_only else url


def _open(location: StoreLocation) -> ContextStore:
    url = existing_catalog_url(location.root, location.catalog_url, read_only=True)
    return ContextStore(location.root, open_catalog(url, secrets=location.secrets))
