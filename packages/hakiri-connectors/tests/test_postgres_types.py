"""PostgreSQL types become Arrow types without loss, decided by the catalog (a real server)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from hakiri.connectors.postgres import connector
from hakiri.connectors.testing import read_all
from hakiri.testing.host import TestHost
from hakiri.testing.postgres import PostgresDatabase

COLUMNS = """
    id serial PRIMARY KEY,
    i2 smallint, i4 integer, i8 bigint, r real, d double precision,
    n numeric(12,3), nbig numeric(50,5), nfree numeric,
    b boolean, tx text, vc varchar(10), ch char(3), bin bytea,
    dt date, tm time, ts timestamp, tstz timestamptz, iv interval,
    js json, jb jsonb, u uuid, m mood, pos positive,
    ai integer[], a2 integer[][], at text[], an numeric(5,2)[], ats timestamptz[], au uuid[]
"""

EXPECTED_TYPES = {
    "id": pa.int32(),
    "i2": pa.int16(),
    "i4": pa.int32(),
    "i8": pa.int64(),
    "r": pa.float32(),
    "d": pa.float64(),
    "n": pa.decimal128(12, 3),
    "nbig": pa.decimal256(50, 5),
    "nfree": pa.string(),
    "b": pa.bool_(),
    "tx": pa.string(),
    "vc": pa.string(),
    "ch": pa.string(),
    "bin": pa.binary(),
    "dt": pa.date32(),
    "tm": pa.time64("us"),
    "ts": pa.timestamp("us"),
    "tstz": pa.timestamp("us", tz="UTC"),
    "iv": pa.duration("us"),
    "js": pa.string(),
    "jb": pa.string(),
    "u": pa.string(),
    "m": pa.string(),
    "pos": pa.int64(),
    "ai": pa.list_(pa.int32()),
    "a2": pa.list_(pa.list_(pa.int32())),
    "at": pa.list_(pa.string()),
    "an": pa.list_(pa.decimal128(5, 2)),
    "ats": pa.list_(pa.timestamp("us", tz="UTC")),
    "au": pa.list_(pa.string()),
}

EDGE_ROW = """
INSERT INTO everything (i2, i4, i8, r, d, n, nbig, nfree, b, tx, vc, ch, bin, dt, tm, ts, tstz,
                        iv, js, jb, u, m, pos, ai, a2, at, an, ats, au)
VALUES (-32768, 2147483647, -9223372036854775808, 1.5, -2.25,
        -123456789.123, 123456789012345678901234567890123456789012345.12345,
        3.14159265358979323846264338327950288419716939937510582097494459230781640628,
        true, 'héllo "wörld"', 'abc', 'ab', '\\x00ff10',
        '0044-03-15', '23:59:59.999999', '1900-01-01 00:00:00.000001',
        '2026-01-01 12:00:00.123456+05:30', '1 day 04:05:06.5',
        '{"a": [1, 2]}', '{"b": {"c": null}, "a": 1}',
        'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11', 'happy', 9000000000,
        '{1,NULL,3}', '{{1,2},{3,4}}', '{"x","y z",NULL}', '{1.5,NULL,-0.25}',
        '{"2026-01-01 00:00:00+00","2026-06-01 12:00:00-07"}',
        '{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}')
"""


@pytest.fixture
def everything(postgres_db: PostgresDatabase) -> PostgresDatabase:
    postgres_db.execute(
        "CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');"
        "CREATE DOMAIN positive AS bigint CHECK (VALUE > 0);"
        f"CREATE TABLE everything ({COLUMNS});"
        "INSERT INTO everything (i2) VALUES (NULL);" + EDGE_ROW  # a row of NULLs
    )
    return postgres_db


def _read(db: PostgresDatabase, tmp_path: Path, **options: Any) -> pa.Table:
    host = TestHost(tmp_path)
    with connector.create({"dsn": db.url, **options}, host) as source:
        rows, _, _ = read_all(source)
        return rows


def _value(table: pa.Table, column: str, row: int = 1) -> Any:
    return table.column(column)[row].as_py()


def test_every_type_maps_to_its_arrow_type_with_nulls(
    everything: PostgresDatabase, tmp_path: Path
) -> None:
    table = _read(everything, tmp_path, table="public.everything")
    assert {f.name: f.type for f in table.schema} == EXPECTED_TYPES
    nulls = table.slice(0, 1).to_pylist()[0]
    assert nulls["id"] == 1
    assert [k for k, v in nulls.items() if v is not None] == ["id"]


def test_edge_values_survive(everything: PostgresDatabase, tmp_path: Path) -> None:
    table = _read(everything, tmp_path, table="everything")
    assert _value(table, "i2") == -32768
    assert _value(table, "i4") == 2147483647
    assert _value(table, "i8") == -9223372036854775808
    assert _value(table, "r") == 1.5
    assert _value(table, "n") == Decimal("-123456789.123")
    assert _value(table, "nbig") == Decimal("123456789012345678901234567890123456789012345.12345")
    # Unconstrained numeric: the exact text, every digit kept.
    assert _value(table, "nfree") == (
        "3.14159265358979323846264338327950288419716939937510582097494459230781640628"
    )
    assert _value(table, "tx") == 'héllo "wörld"'
    assert _value(table, "ch") == "ab"
    assert _value(table, "bin") == b"\x00\xff\x10"
    assert _value(table, "dt") == date(44, 3, 15)
    assert _value(table, "tm") == time(23, 59, 59, 999999)
    assert _value(table, "ts") == datetime(1900, 1, 1, 0, 0, 0, 1)
    # +05:30 on the server becomes the same instant in UTC.
    assert _value(table, "tstz") == datetime(2026, 1, 1, 6, 30, 0, 123456, tzinfo=UTC)
    assert _value(table, "iv") == timedelta(days=1, hours=4, minutes=5, seconds=6.5)
    assert _value(table, "js") == '{"a": [1, 2]}'
    assert _value(table, "jb") == '{"a": 1, "b": {"c": null}}'  # jsonb's normal form
    assert _value(table, "u") == "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"
    assert _value(table, "m") == "happy"
    assert _value(table, "pos") == 9000000000
    assert _value(table, "ai") == [1, None, 3]
    assert _value(table, "a2") == [[1, 2], [3, 4]]
    assert _value(table, "at") == ["x", "y z", None]
    assert _value(table, "an") == [Decimal("1.50"), None, Decimal("-0.25")]
    assert _value(table, "ats") == [
        datetime(2026, 1, 1, tzinfo=UTC),
        datetime(2026, 6, 1, 19, tzinfo=UTC),
    ]
    assert _value(table, "au") == ["a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"]


def test_specials_have_a_documented_form(postgres_db: PostgresDatabase, tmp_path: Path) -> None:
    postgres_db.execute(
        "CREATE TABLE specials (id int PRIMARY KEY, n numeric(6,2), nfree numeric, "
        "ts timestamptz, dt date, iv interval, d float8);"
        "INSERT INTO specials VALUES (1, 'NaN', 'NaN', 'infinity', '-infinity', "
        "'1 year 1 mon', 'Infinity'), (2, -0.5, '-1e-30', '-infinity', 'infinity', "
        "'-3 days', '-0')"
    )
    table = _read(postgres_db, tmp_path, table="specials")
    assert table.column("n").to_pylist() == [None, Decimal("-0.50")]  # NaN has no decimal
    assert table.column("nfree").to_pylist() == ["NaN", "-0.000000000000000000000000000001"]
    # ±infinity become the extreme int64 / int32 values, which DuckDB reads as ±infinity.
    micros = pc.cast(table.column("ts"), pa.int64()).to_pylist()
    assert micros == [2**63 - 1, -(2**63 - 1)]
    days = pc.cast(table.column("dt"), pa.int32()).to_pylist()
    assert days == [-(2**31 - 1), 2**31 - 1]
    # An interval's months count 30 days and its years 365.25 days, as extract(epoch) does.
    assert table.column("iv").to_pylist() == [timedelta(days=365.25 + 30), timedelta(days=-3)]
    assert table.column("d").to_pylist() == [float("inf"), -0.0]


def test_an_empty_table_and_null_only_columns_keep_their_types(
    everything: PostgresDatabase, tmp_path: Path
) -> None:
    everything.execute("DELETE FROM everything WHERE i2 IS NOT NULL")
    only_nulls = _read(everything, tmp_path, table="everything")
    assert only_nulls.num_rows == 1
    assert {f.name: f.type for f in only_nulls.schema} == EXPECTED_TYPES
    everything.execute("DELETE FROM everything")
    host = TestHost(tmp_path)
    with connector.create({"dsn": everything.url, "table": "everything"}, host) as source:
        page = source.plan(None).pages[0]
        data = source.read(page)
    assert data.table.num_rows == 0
    assert {f.name: f.type for f in data.table.schema} == EXPECTED_TYPES
    assert data.next_pages == []


def test_discover_reports_the_same_schema_as_a_read(
    everything: PostgresDatabase, tmp_path: Path
) -> None:
    everything.execute("CREATE VIEW happy AS SELECT id, tstz, m FROM everything WHERE m = 'happy'")
    host = TestHost(tmp_path)
    with connector.create({"dsn": everything.url, "table": "everything"}, host) as source:
        streams = {s.name: s for s in source.discover()}
    assert set(streams) == {"everything", "happy"}
    table = _read(everything, tmp_path, table="everything")
    schema = streams["everything"].schema
    assert schema is not None and schema.to_arrow() == table.schema
    assert streams["everything"].primary_key == ("id",)
    view = streams["happy"]
    assert view.options == {"table": "public.happy"}
    assert view.schema is not None
    assert view.schema.to_arrow().names == ["id", "tstz", "m"]
    assert view.description.startswith("view public.happy")


def test_a_query_maps_types_from_its_description(
    everything: PostgresDatabase, tmp_path: Path
) -> None:
    table = _read(
        everything,
        tmp_path,
        query="SELECT id, n * 2 AS doubled, tstz, jb -> 'b' AS b, u::text AS u, 'x%' AS pct "
        "FROM everything ORDER BY id",
    )
    assert table.schema.field("doubled").type == pa.string()  # numeric of no fixed scale
    assert table.schema.field("tstz").type == pa.timestamp("us", tz="UTC")
    assert table.column("b").to_pylist() == [None, '{"c": null}']
    assert table.column("pct").to_pylist() == ["x%", "x%"]
