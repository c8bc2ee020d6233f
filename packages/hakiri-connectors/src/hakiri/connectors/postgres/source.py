"""The postgres source: keyset pages (or a streamed cursor), loaded columnar into Arrow."""

from __future__ import annotations

import re
import threading
from typing import TYPE_CHECKING, Any

from hakiri.connectors.postgres.config import PostgresSourceConfig
from hakiri.connectors.postgres.connect import Connector
from hakiri.connectors.postgres.introspect import (
    Relation,
    describe_query,
    describe_relations,
    load_types,
)
from hakiri.connectors.postgres.layout import Layout, build_layout, rows_to_table, stream_name
from hakiri.connectors.postgres.types import plan_column, quote_ident
from hakiri.core.closing import Closing
from hakiri.core.cursor import CursorKind, JsonValue
from hakiri.core.errors import ConfigError, SourceError
from hakiri.core.ports import Host
from hakiri.core.records import Page, PageData, Plan, StreamInfo

if TYPE_CHECKING:
    import psycopg
    import pyarrow as pa

__all__ = ["PostgresSource"]

_SLICE = 10_000
"""Rows turned into Python objects at a time: a page's objects never all exist at once."""
_STREAM_CURSOR = "hakiri_stream"
_STREAM_RESETS = ("query", "columns", "incremental_column", "key_columns", "stream")


def _page_number(key: str) -> int:
    match = re.fullmatch(r"page-(\d+)", key)
    return int(match.group(1)) if match else 1


class _Stream:
    """An open server-side cursor and how many rows it has handed out."""

    def __init__(self, con: psycopg.Connection[Any], cursor: Any, position: int) -> None:
        self.con = con
        self.cursor = cursor
        self.position = position

    def close(self) -> None:
        try:
            self.cursor.close()
            self.con.rollback()
        finally:
            self.con.close()


class PostgresSource(Closing):
    """A table, view or query of a PostgreSQL database (a ``hakiri.core.ports.Source``)."""

    def __init__(self, config: PostgresSourceConfig, host: Host) -> None:
        self.config = config
        self._connector = Connector(config, host.secrets)
        self._con: psycopg.Connection[Any] | None = None
        self._layout: Layout | None = None
        self._stream: _Stream | None = None
        # Pages may be read on the runtime's prefetch thread while plan ran on another.
        self._lock = threading.RLock()

    # -- connections ------------------------------------------------------------------------

    def _connection(self) -> psycopg.Connection[Any]:
        if self._con is None or self._con.closed:
            self._con = self._connector.connect()
        return self._con

    def close(self) -> None:
        with self._lock:
            stream, self._stream = self._stream, None
            con, self._con = self._con, None
            try:
                if stream is not None:
                    stream.close()
            finally:
                if con is not None:
                    con.close()

    # -- the catalog ------------------------------------------------------------------------

    def layout(self) -> Layout:
        """How this source's pages are read (asks the catalog once)."""
        with self._lock:
            if self._layout is None:
                self._layout = self._describe()
            return self._layout

    def _describe(self) -> Layout:
        con = self._connection()
        relation = self.config.relation
        with self._connector.errors("describing the source"):
            if relation is not None:
                found = describe_relations(con, [relation[0]], only=relation)
                if not found:
                    raise ConfigError(
                        f"postgres connector: table {relation[0]}.{relation[1]} does not "
                        f"exist in {self._connector.address} (or this user cannot see it)",
                        hint="check source.table ('schema.table'; unquoted names are lower-cased)",
                    )
                columns = list(found[0].columns)
                types = load_types(con, [c.type_oid for c in columns])
                return build_layout(self.config, columns, types, found[0])
            assert self.config.query is not None
            columns = describe_query(con, self.config.query)
            types = load_types(con, [c.type_oid for c in columns])
            return build_layout(self.config, columns, types, None)

    def discover(self) -> list[StreamInfo]:
        """Every table and view of the configured schemas (and the query, if one is set)."""
        from hakiri.core.schema import Schema

        config = self.config
        relation = config.relation
        schemas = config.schemas or [relation[0] if relation else "public"]
        streams: list[StreamInfo] = []
        if config.query is not None:
            layout = self.layout()
            streams.append(
                StreamInfo(
                    name=config.stream or "query",
                    schema=Schema.from_arrow(layout.arrow_schema()),
                    cursor_field=config.incremental_column,
                    primary_key=tuple(config.key_columns or ()),
                    description="query",
                )
            )
        con = self._connection()
        with self._connector.errors("listing tables"):
            relations = describe_relations(con, schemas)
            types = load_types(con, {c.type_oid for r in relations for c in r.columns})
        for found in relations:
            configured = relation == (found.schema, found.name)
            streams.append(self._stream_info(found, types, configured))
        return streams

    def _stream_info(self, found: Relation, types: Any, configured: bool) -> StreamInfo:
        import pyarrow as pa

        from hakiri.core.schema import Schema

        config = self.config
        if configured:
            schema = self.layout().arrow_schema()
            name = config.stream or stream_name(found.schema, found.name)
            options: dict[str, JsonValue] = {"table": found.qualified}
        else:
            plans = [plan_column(c, types) for c in found.columns]
            schema = pa.schema([pa.field(p.name, p.arrow_type) for p in plans])
            name = stream_name(found.schema, found.name)
            # Reset what selects the configured stream, so `options | stream.options`
            # reads this one.
            options = {"table": found.qualified}
            options.update({k: None for k in _STREAM_RESETS if getattr(config, k) is not None})
        description = f"{found.kind} {found.qualified}"
        if found.comment:
            description += f": {found.comment}"
        return StreamInfo(
            name=name,
            schema=Schema.from_arrow(schema) if len(schema) else None,
            cursor_field=config.incremental_column if configured else None,
            primary_key=found.primary_key,
            description=description,
            options=options,
        )

    # -- plan -------------------------------------------------------------------------------

    def plan(self, cursor: JsonValue) -> Plan:
        """The first page after ``cursor``; each page reveals the next."""
        layout = self.layout()
        if layout.incremental is not None:
            kind = CursorKind.MONOTONIC
            name = layout.plans[layout.incremental].name
            description = f"{layout.description}, rows with {name} > {cursor}"
            if cursor is None:
                description = f"{layout.description}, every row (by {name})"
        else:
            kind = CursorKind.SNAPSHOT_ID
            description = f"{layout.description}, every row"
        if layout.mode == "stream":
            params: dict[str, JsonValue] = {"skip": 0}
            description += " (streamed: no key to page by)"
        elif layout.mode == "groups":
            params = {"after": cursor}
        else:
            params = {"after": None, "since": cursor}
        return Plan([Page("page-1", params)], kind, description)

    # -- read -------------------------------------------------------------------------------

    def read(self, page: Page) -> PageData:
        """Read ``page``; reveal the next one when this one is full."""
        layout = self.layout()
        with self._lock, self._connector.errors(f"reading {page.key}"):
            if layout.mode == "stream":
                return self._read_stream(layout, page)
            if layout.mode == "groups":
                return self._read_groups(layout, page)
            return self._read_keyset(layout, page)

    def _fetch(self, sql: str, args: list[Any]) -> tuple[pa.Table, tuple[Any, ...] | None, int]:
        """Run ``sql``; the page as Arrow, its last row (as loaded) and its row count."""
        cursor = self._connection().cursor(binary=True)
        try:
            cursor.execute(sql, args)
            return self._drain(cursor, None)
        finally:
            cursor.close()

    def _drain(
        self, cursor: Any, limit: int | None
    ) -> tuple[pa.Table, tuple[Any, ...] | None, int]:
        import pyarrow as pa

        layout = self.layout()
        tables: list[pa.Table] = []
        last: tuple[Any, ...] | None = None
        count = 0
        while limit is None or count < limit:
            want = _SLICE if limit is None else min(_SLICE, limit - count)
            rows = cursor.fetchmany(want)
            if not rows:
                break
            tables.append(rows_to_table(layout, rows))
            last = rows[-1]
            count += len(rows)
            if len(rows) < want:
                break
        if not tables:
            return rows_to_table(layout, []), None, 0
        table = tables[0] if len(tables) == 1 else pa.concat_tables(tables).combine_chunks()
        return table, last, count

    def _data(
        self, layout: Layout, table: pa.Table, last: tuple[Any, ...] | None, next_page: Page | None
    ) -> PageData:
        cursor: JsonValue = None
        if layout.incremental is not None and last is not None:
            cursor = layout.plans[layout.incremental].key_value(last[layout.incremental])
        return PageData(
            table=table,
            next_pages=[next_page] if next_page is not None else [],
            cursor=cursor,
            bytes_read=int(table.nbytes),
        )

    def _read_keyset(self, layout: Layout, page: Page) -> PageData:
        after = page.params.get("after")
        since = page.params.get("since")
        where: list[str] = []
        args: list[Any] = []
        inc = layout.incremental
        if inc is not None:
            where.append(f"{quote_ident(layout.plans[inc].name)} IS NOT NULL")
            if after is None and since is not None:
                where.append(f"{quote_ident(layout.plans[inc].name)} > {layout.cast(inc)}")
                args.append(str(since))
        if after is not None:
            if not isinstance(after, list) or len(after) != len(layout.order):
                raise SourceError(
                    f"page {page.key!r} does not fit this source (its key changed?)",
                    hint="plan the run again",
                )
            casts = ", ".join(layout.cast(i) for i in layout.order)
            where.append(f"({layout.ordered_by()}) > ({casts})")
            args.extend(None if v is None else str(v) for v in after)
        sql = f"SELECT {layout.select_list} FROM {layout.source_sql}"
        if where:
            sql += " WHERE " + " AND ".join(where)
        limit = self.config.batch_rows
        sql += f" ORDER BY {layout.ordered_by()} LIMIT {limit}"
        table, last, count = self._fetch(sql, args)
        following = None
        if count == limit and last is not None:
            key = [layout.plans[i].key_value(last[i]) for i in layout.order]
            following = Page(f"page-{_page_number(page.key) + 1}", {"after": key, "since": since})
        return self._data(layout, table, last, following)

    def _read_groups(self, layout: Layout, page: Page) -> PageData:
        assert layout.incremental is not None
        inc = layout.incremental
        plan = layout.plans[inc]
        column = quote_ident(plan.name)
        after = page.params.get("after")
        where = [f"{column} IS NOT NULL"]
        args: list[Any] = []
        if after is not None:
            where.append(f"{column} > {layout.cast(inc)}")
            args.append(str(after))
        condition = " AND ".join(where)
        # The page ends after the whole group holding its batch_rows-th row; EXISTS says
        # whether anything follows, so a sweep ends without an empty page.
        boundary_sql = (
            f"SELECT {plan.select_sql}, EXISTS (SELECT 1 FROM {layout.source_as('_n')} "
            f"WHERE _n.{column} > _b.{column}) FROM (SELECT {column} FROM {layout.source_sql} "
            f"WHERE {condition} ORDER BY {column} OFFSET {self.config.batch_rows - 1} "
            f"LIMIT 1) AS _b"
        )
        with self._connection().cursor(binary=True) as cursor:
            found = cursor.execute(boundary_sql, args).fetchone()
        sql = f"SELECT {layout.select_list} FROM {layout.source_sql} WHERE {condition}"
        following = None
        if found is not None:
            boundary, more = plan.key_value(found[0]), bool(found[1])
            sql += f" AND {column} <= {layout.cast(inc)}"
            args = [*args, str(boundary)]
            if more:
                following = Page(f"page-{_page_number(page.key) + 1}", {"after": boundary})
        table, last, _ = self._fetch(sql + f" ORDER BY {column}", args)
        return self._data(layout, table, last, following)

    def _read_stream(self, layout: Layout, page: Page) -> PageData:
        skip = page.params.get("skip")
        if not isinstance(skip, int) or skip < 0:
            raise SourceError(f"page {page.key!r} is not a page of this source", hint="plan again")
        stream = self._stream
        if stream is None or stream.position != skip:
            # Not the continuation of the open cursor (another process, a resumed run):
            # run the query again and skip what pages before this one held.
            if stream is not None:
                self._stream = None
                stream.close()
            stream = self._open_stream(layout, skip)
        limit = self.config.batch_rows
        table, last, count = self._drain(stream.cursor, limit)
        stream.position += count
        following = None
        if count == limit:
            following = Page(f"page-{_page_number(page.key) + 1}", {"skip": skip + count})
        else:
            self._stream = None
            stream.close()
        return self._data(layout, table, last, following)

    def _open_stream(self, layout: Layout, skip: int) -> _Stream:
        con = self._connector.connect(autocommit=False)
        try:
            # Settings of this transaction only: a stable scan order for a skip to be exact.
            con.execute("SET LOCAL synchronize_seqscans TO off")
            cursor = con.cursor(_STREAM_CURSOR, binary=True)
            cursor.execute(f"SELECT {layout.select_list} FROM {layout.source_sql}", ())
            if skip:
                cursor.scroll(skip)
        except BaseException:
            con.close()
            raise
        self._stream = _Stream(con, cursor, skip)
        return self._stream
