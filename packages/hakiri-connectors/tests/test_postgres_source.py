"""The postgres source against a real server: pages, cursors, ties, queries, errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from hakiri.connectors.postgres import connector
from hakiri.connectors.postgres.source import PostgresSource
from hakiri.connectors.testing import read_all
from hakiri.core.cursor import CursorKind
from hakiri.core.errors import ConfigError, SecretError, SourceError, SourceUnreachable
from hakiri.core.records import Page
from hakiri.testing.host import TestHost
from hakiri.testing.net import free_port
from hakiri.testing.postgres import PostgresDatabase


@pytest.fixture
def orders(postgres_db: PostgresDatabase) -> PostgresDatabase:
    """``orders``: 95 rows; ``updated_at`` repeats in groups of 10 (ties at every page edge)."""
    postgres_db.execute(
        "CREATE TABLE orders (id bigint PRIMARY KEY, customer text, amount numeric(10,2), "
        "updated_at timestamptz NOT NULL);"
        "INSERT INTO orders SELECT g, 'c' || (g % 7), g * 1.5, "
        "timestamptz '2026-01-01' + ((g - 1) / 10) * interval '1 minute' "
        "FROM generate_series(1, 95) g"
    )
    return postgres_db


def _source(db: PostgresDatabase, tmp_path: Path, **options: Any) -> PostgresSource:
    source = connector.create({"dsn": db.url, **options}, TestHost(tmp_path))
    assert isinstance(source, PostgresSource)
    return source


def _ids(table: pa.Table) -> list[int]:
    return [int(v) for v in table.column("id").to_pylist()]


def _roundtrip(page: Page) -> Page:
    return Page.from_dict(json.loads(json.dumps(page.to_dict())))


# -- snapshots --------------------------------------------------------------------------------


def test_a_snapshot_reads_every_row_once_in_keyset_pages(
    orders: PostgresDatabase, tmp_path: Path
) -> None:
    with _source(orders, tmp_path, table="orders", batch_rows=20) as source:
        plan = source.plan(None)
        assert plan.cursor_kind is CursorKind.SNAPSHOT_ID
        rows, datas, reached = read_all(source)
    assert _ids(rows) == list(range(1, 96))
    assert [d.table.num_rows for d in datas] == [20, 20, 20, 20, 15]
    assert reached is None
    # Each page carries the last key it read, nothing more.
    assert datas[0].next_pages[0].params == {"after": [20], "since": None}


def test_a_page_reads_the_same_in_a_fresh_source(orders: PostgresDatabase, tmp_path: Path) -> None:
    with _source(orders, tmp_path, table="orders", batch_rows=30) as first:
        page = first.read(first.plan(None).pages[0]).next_pages[0]
    with _source(orders, tmp_path, table="orders", batch_rows=30) as other:
        data = other.read(_roundtrip(page))
    assert _ids(data.table) == list(range(31, 61))


def test_columns_keep_only_those_named(orders: PostgresDatabase, tmp_path: Path) -> None:
    with _source(
        orders,
        tmp_path,
        table="orders",
        columns=["amount", "customer"],
        incremental_column="updated_at",
        batch_rows=40,
    ) as source:
        rows, datas, reached = read_all(source)
    # The key and the watermark are read to page by, but not written.
    assert rows.column_names == ["amount", "customer"]
    assert rows.num_rows == 95
    assert reached == "2026-01-01T00:09:00.000000Z"


def test_a_query_is_streamed_and_resumed_by_skipping(
    orders: PostgresDatabase, tmp_path: Path
) -> None:
    query = "SELECT id, customer FROM orders WHERE id % 2 = 1 ORDER BY id"
    with _source(orders, tmp_path, query=query, batch_rows=10) as source:
        plan = source.plan(None)
        rows, datas, _ = read_all(source)
    assert "streamed" in plan.description
    assert _ids(rows) == list(range(1, 96, 2))
    third = datas[1].next_pages[0]
    assert third.params == {"skip": 20}
    # Another process (a resumed run) re-runs the query and skips the rows before the page.
    with _source(orders, tmp_path, query=query, batch_rows=10) as other:
        again = other.read(_roundtrip(third))
    assert _ids(again.table) == list(range(41, 60, 2))


def test_a_table_without_primary_key_is_streamed(
    postgres_db: PostgresDatabase, tmp_path: Path
) -> None:
    postgres_db.execute(
        "CREATE TABLE events (id int, what text); "
        "INSERT INTO events SELECT g, 'e' FROM generate_series(1, 25) g"
    )
    with _source(postgres_db, tmp_path, table="events", batch_rows=10) as source:
        rows, datas, _ = read_all(source)
    assert sorted(_ids(rows)) == list(range(1, 26))
    assert [d.table.num_rows for d in datas] == [10, 10, 5]
    with _source(postgres_db, tmp_path, table="events", batch_rows=10, key_columns=["id"]) as keyed:
        _, keyed_pages, _ = read_all(keyed)
    assert keyed_pages[0].next_pages[0].params == {"after": [10], "since": None}


# -- incremental ------------------------------------------------------------------------------


def test_incremental_reads_only_rows_above_the_cursor(
    orders: PostgresDatabase, tmp_path: Path
) -> None:
    options: dict[str, Any] = {"table": "orders", "incremental_column": "updated_at"}
    with _source(orders, tmp_path, batch_rows=25, **options) as source:
        assert source.plan(None).cursor_kind is CursorKind.MONOTONIC
        rows, datas, cursor = read_all(source)
    assert _ids(rows) == list(range(1, 96))
    assert cursor == "2026-01-01T00:09:00.000000Z"
    pages_cursors = [d.cursor for d in datas]
    assert pages_cursors == sorted(pages_cursors), "each page's cursor is its newest value"

    with _source(orders, tmp_path, batch_rows=25, **options) as source:
        nothing, _, unchanged = read_all(source, cursor)
    assert nothing.num_rows == 0 and unchanged == cursor

    orders.execute(
        "INSERT INTO orders SELECT g, 'new', 1, timestamptz '2026-01-02' "
        "FROM generate_series(96, 130) g"
    )
    with _source(orders, tmp_path, batch_rows=25, **options) as source:
        new, _, moved = read_all(source, cursor)
    assert _ids(new) == list(range(96, 131))
    assert moved == "2026-01-02T00:00:00.000000Z"


def test_ties_at_the_watermark_across_page_edges_are_read_once(
    orders: PostgresDatabase, tmp_path: Path
) -> None:
    # Ten rows share each updated_at; pages of 7 cut through every group.
    with _source(
        orders, tmp_path, table="orders", incremental_column="updated_at", batch_rows=7
    ) as source:
        rows, datas, _ = read_all(source)
    assert sorted(_ids(rows)) == list(range(1, 96))
    assert len(_ids(rows)) == 95
    edge = datas[0].next_pages[0].params
    assert edge == {"after": ["2026-01-01T00:00:00.000000Z", 7], "since": None}


def test_without_a_key_pages_hold_whole_groups_of_ties(
    orders: PostgresDatabase, tmp_path: Path
) -> None:
    query = "SELECT id, updated_at FROM orders"
    with _source(
        orders, tmp_path, query=query, incremental_column="updated_at", batch_rows=15
    ) as source:
        rows, datas, cursor = read_all(source)
    assert sorted(_ids(rows)) == list(range(1, 96))
    assert len(_ids(rows)) == 95
    # A page ends after the whole group holding its 15th row: 20, 20, 20, 20, 15.
    assert [d.table.num_rows for d in datas] == [20, 20, 20, 20, 15]
    assert cursor == "2026-01-01T00:09:00.000000Z"
    # A page read in another process computes the same groups.
    with _source(
        orders, tmp_path, query=query, incremental_column="updated_at", batch_rows=15
    ) as other:
        again = other.read(_roundtrip(datas[0].next_pages[0]))
    assert _ids(again.table) == list(range(21, 41))


def test_an_integer_incremental_column_gives_an_integer_cursor(
    orders: PostgresDatabase, tmp_path: Path
) -> None:
    with _source(orders, tmp_path, table="orders", incremental_column="id") as source:
        _, _, cursor = read_all(source, 90)
        rows, _, _ = read_all(source, 90)
    assert cursor == 95
    assert _ids(rows) == [91, 92, 93, 94, 95]


# -- options and errors -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "words"),
    [
        ({"table": "orders"}, "either dsn or host"),
        ({"dsn": "postgresql://x", "host": "h", "table": "t"}, "either dsn or host"),
        ({"dsn": "postgresql://x"}, "exactly one of table or query"),
        ({"dsn": "postgresql://x", "table": "t", "query": "select 1"}, "exactly one"),
        ({"dsn": "postgresql://x", "query": "delete from orders"}, "one SELECT"),
        ({"dsn": "postgresql://x", "query": "select 1; drop table orders"}, "one SELECT"),
        ({"host": "h", "password": "hunter22", "table": "t"}, "secret://NAME reference"),
        ({"dsn": "postgresql://x", "table": "a.b.c"}, "not a table name"),
        ({"dsn": "postgresql://x", "table": "t", "batch_rows": 0}, "batch_rows"),
        ({"dsn": "postgresql://x", "table": "t", "columns": ["a", "a"]}, "named twice"),
        ({"dsn": "postgresql://x", "table": "t", "user": "u"}, "go inside dsn"),
    ],
)
def test_bad_options_are_refused_before_any_connection(
    tmp_path: Path, options: dict[str, Any], words: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        connector.create(options, TestHost(tmp_path))
    line = caught.value.one_line()
    assert words in line and "postgres" in line and "\n" not in line
    assert "hunter22" not in line


def test_a_missing_secret_fails_at_create(tmp_path: Path) -> None:
    with pytest.raises(SecretError, match="PG_DSN"):
        connector.create({"dsn": "secret://PG_DSN", "table": "t"}, TestHost(tmp_path))


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"table": "public.nope"}, "public.nope"),
        ({"table": "orders", "columns": ["id", "colour"]}, "'colour'"),
        ({"table": "orders", "incremental_column": "when"}, "'when'"),
        ({"table": "orders", "incremental_column": "customer"}, "incremental_column"),
        ({"query": "SELECT id FROM nowhere"}, "nowhere"),
        ({"query": "SELECT id, id FROM orders"}, "'id'"),
    ],
)
def test_what_does_not_exist_is_named(
    orders: PostgresDatabase, tmp_path: Path, options: dict[str, Any], named: str
) -> None:
    with _source(orders, tmp_path, **options) as source, pytest.raises(ConfigError) as caught:
        source.plan(None)
    assert named in caught.value.one_line()


def test_a_query_cannot_write(orders: PostgresDatabase, tmp_path: Path) -> None:
    orders.execute("CREATE SEQUENCE counter")
    with (
        _source(orders, tmp_path, query="SELECT nextval('counter') AS id") as source,
        pytest.raises(SourceError, match="read-only"),
    ):
        read_all(source)
    assert orders.fetch("SELECT last_value FROM counter") == [(1,)]  # never advanced


def test_an_unreachable_server_is_named_without_the_password(tmp_path: Path) -> None:
    port = free_port()
    host = TestHost(tmp_path, secrets={"PG_PASSWORD": "s3cr3t-pa55"})
    options = {
        "host": "127.0.0.1",
        "port": port,
        "user": "hakiri",
        "dbname": "shop",
        "password": "secret://PG_PASSWORD",
        "table": "orders",
        "connect_timeout": 2,
    }
    with connector.create(options, host) as source, pytest.raises(SourceUnreachable) as caught:
        source.plan(None)
    line = caught.value.one_line()
    assert f"127.0.0.1:{port}/shop" in line
    assert "s3cr3t-pa55" not in line and "\n" not in line


def test_a_dsn_secret_is_resolved_at_connect_time(orders: PostgresDatabase, tmp_path: Path) -> None:
    host = TestHost(tmp_path, secrets={"PG_DSN": orders.url})
    with connector.create({"dsn": "secret://PG_DSN", "table": "orders"}, host) as source:
        rows, _, _ = read_all(source)
        page = source.plan(None).pages[0]
    assert rows.num_rows == 95
    assert orders.url not in json.dumps(page.to_dict())


def test_discover_lists_every_relation_with_options_that_select_it(
    orders: PostgresDatabase, tmp_path: Path
) -> None:
    orders.execute(
        "CREATE SCHEMA shop; CREATE TABLE shop.items (sku text PRIMARY KEY, qty int);"
        "CREATE VIEW big_orders AS SELECT * FROM orders WHERE amount > 100;"
        "COMMENT ON TABLE orders IS 'what customers bought'"
    )
    options: dict[str, Any] = {"query": "SELECT id FROM orders", "stream": "ids"}
    with _source(orders, tmp_path, **options) as source:
        streams = {s.name: s for s in source.discover()}
    assert set(streams) == {"ids", "orders", "big_orders"}
    assert streams["orders"].description == "table public.orders: what customers bought"
    assert streams["orders"].options == {"table": "public.orders", "query": None, "stream": None}
    # A caller reaches any stream with the configured options overridden by the stream's.
    merged = {"dsn": orders.url, **options, **streams["big_orders"].options}
    with connector.create(merged, TestHost(tmp_path)) as view:
        rows, _, _ = read_all(view)
    assert rows.num_rows == 95 - 66
    with _source(orders, tmp_path, table="x", schemas=["shop"]) as other:
        shop = other.discover()
    assert [(s.name, s.primary_key) for s in shop] == [("shop_items", ("sku",))]
