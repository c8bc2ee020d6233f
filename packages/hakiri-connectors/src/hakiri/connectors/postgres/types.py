"""PostgreSQL types → Arrow types, decided from the catalog, never from values.

Each column becomes a ``ColumnPlan``: the SQL expression the page query selects (the server
turns awkward types into cheap ones: timestamps into epoch microseconds, numerics and JSON
into their exact text), the Arrow type psycopg's values are loaded as, and the final Arrow
type (a cast, done by Arrow in C++). So empty pages and NULL-only columns keep their types,
and Python handles only ints, floats, bools, strings and bytes per value.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from hakiri.core.errors import ConfigError, SourceError

if TYPE_CHECKING:
    from collections.abc import Sequence

    import pyarrow as pa

__all__ = [
    "ColumnPlan",
    "PgColumn",
    "PgType",
    "format_timestamp",
    "plan_column",
    "quote_ident",
    "require_orderable",
]

# Built-in type OIDs are fixed across PostgreSQL versions (pg_type.dat).
BOOL, BYTEA, CHAR, NAME, INT8, INT2, INT4, TEXT, OID = 16, 17, 18, 19, 20, 21, 23, 25, 26
FLOAT4, FLOAT8, BPCHAR, VARCHAR = 700, 701, 1042, 1043
DATE, TIME, TIMESTAMP, TIMESTAMPTZ, INTERVAL, NUMERIC = 1082, 1083, 1114, 1184, 1186, 1700

_INTS = {INT2: "int16", INT4: "int32", INT8: "int64"}
_TEXTS = {TEXT, VARCHAR, BPCHAR, NAME, CHAR}
_DIRECT_ELEMENTS = {BOOL, INT2, INT4, INT8, FLOAT4, FLOAT8, BYTEA}
_TEMPORAL_ELEMENTS = {DATE, TIME, TIMESTAMP, TIMESTAMPTZ}
_INT64_MAX = 9_223_372_036_854_775_807
_INT32_MAX = 2_147_483_647
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

KeyKind = Literal["int", "text", "timestamp", "timestamptz", "date"]
"""How a column's loaded value becomes a JSON-safe cursor / keyset value."""


def quote_ident(name: str) -> str:
    """``name`` as a PostgreSQL identifier, quoted (and ``%`` doubled for psycopg)."""
    return '"' + name.replace('"', '""').replace("%", "%%") + '"'


@dataclass(frozen=True, slots=True)
class PgType:
    """One ``pg_type`` row, as much of it as the mapping needs."""

    oid: int
    name: str
    """``format_type(oid, NULL)``: usable in a cast."""
    typtype: str
    category: str
    elem: int
    base: int
    base_typmod: int


@dataclass(frozen=True, slots=True)
class PgColumn:
    """A column as the catalog (or a query's description) states it."""

    name: str
    type_oid: int
    typmod: int = -1
    ndims: int = 0


@dataclass(frozen=True, slots=True)
class ColumnPlan:
    """How one column is selected, loaded and typed."""

    name: str
    pg_type: str
    """The column's type name, for messages and for casting keyset parameters."""
    select_sql: str
    load_type: pa.DataType
    arrow_type: pa.DataType
    key_kind: KeyKind | None = None
    """Set when the column can order pages (a key or incremental column)."""
    incremental: bool = False
    """Whether the column is a valid ``incremental_column`` (only grows: ints, dates, times)."""

    def convert(self, values: Sequence[Any]) -> pa.Array[Any]:
        """The Arrow array of this column's loaded ``values``."""
        import pyarrow as pa

        try:
            array: pa.Array[Any] = pa.array(values, type=self.load_type)
            if self.load_type != self.arrow_type:
                array = array.cast(self.arrow_type)
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError, TypeError) as exc:
            raise SourceError(
                f"column {self.name!r} ({self.pg_type}) cannot become {self.arrow_type}: {exc}",
                hint="select it as text in a query (source.query = 'select …, col::text …')",
            ) from None
        return array

    def key_value(self, value: Any) -> Any:
        """``value`` (as loaded) in its JSON-safe form: an int, or text PostgreSQL can cast
        back to the column's type. ISO timestamps have a fixed width, so they order as text
        the way they order in time."""
        if value is None or self.key_kind is None:
            return value
        if self.key_kind == "timestamptz":
            return format_timestamp(int(value), utc=True)
        if self.key_kind == "timestamp":
            return format_timestamp(int(value), utc=False)
        if self.key_kind == "date":
            return _format_date(int(value))
        if self.key_kind == "int":
            return int(value)
        return str(value)


def format_timestamp(micros: int, *, utc: bool) -> str:
    """Epoch microseconds as ``YYYY-MM-DDTHH:MM:SS.ffffff`` (+ ``Z`` when ``utc``)."""
    if abs(micros) == _INT64_MAX:
        return "infinity" if micros > 0 else "-infinity"
    try:
        moment = _EPOCH + timedelta(microseconds=micros)
    except OverflowError:
        raise SourceError(
            f"timestamp {micros} µs after 1970 is outside years 1-9999",
            hint="an incremental or key column needs timestamps within years 1-9999",
        ) from None
    text = (
        f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}T"
        f"{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}.{moment.microsecond:06d}"
    )
    return text + "Z" if utc else text


def _format_date(days: int) -> str:
    if abs(days) == _INT32_MAX:
        return "infinity" if days > 0 else "-infinity"
    day = date(1970, 1, 1) + timedelta(days=days)
    return f"{day.year:04d}-{day.month:02d}-{day.day:02d}"


def _numeric_precision_scale(typmod: int) -> tuple[int, int] | None:
    if typmod < 4:
        return None
    packed = typmod - 4
    # PostgreSQL 15 stores the scale as a signed 11-bit number (negative scales exist).
    return (packed >> 16) & 0xFFFF, ((packed & 0x7FF) ^ 1024) - 1024


def _epoch_micros(column: str) -> str:
    # ±infinity become the largest / smallest int64, which is how DuckDB stores them.
    return (
        f"CASE WHEN {column} IS NULL THEN NULL "
        f"WHEN isfinite({column}) THEN (extract(epoch FROM {column}) * 1000000)::int8 "
        f"WHEN {column} > 'epoch' THEN {_INT64_MAX} ELSE -{_INT64_MAX} END"
    )


def _epoch_days(column: str) -> str:
    return (
        f"CASE WHEN {column} IS NULL THEN NULL "
        f"WHEN isfinite({column}) THEN {column} - DATE '1970-01-01' "
        f"WHEN {column} > DATE '1970-01-01' THEN {_INT32_MAX} ELSE -{_INT32_MAX} END"
    )


def _interval_micros(column: str) -> str:
    # PostgreSQL's own conversion (extract epoch): a month is 30 days, a year 365.25 days.
    return (
        f"CASE WHEN {column} IS NULL THEN NULL "
        f"WHEN isfinite({column}) THEN (extract(epoch FROM {column}) * 1000000)::int8 "
        f"WHEN {column} > INTERVAL '0' THEN {_INT64_MAX} ELSE -{_INT64_MAX} END"
    )


def _resolve(oid: int, typmod: int, types: dict[int, PgType]) -> tuple[PgType | None, int]:
    """Follow domains down to their base type."""
    pg = types.get(oid)
    for _ in range(32):
        if pg is None or pg.typtype != "d":
            break
        typmod = pg.base_typmod
        pg = types.get(pg.base)
    return pg, typmod


def _scalar(
    column: str, oid: int, typmod: int, pg: PgType | None
) -> tuple[str, pa.DataType, pa.DataType, KeyKind | None]:
    """(select expression, load type, Arrow type, key kind) of a non-array column."""
    import pyarrow as pa

    if oid in _INTS:
        arrow = getattr(pa, _INTS[oid])()
        return column, arrow, arrow, "int"
    simple: dict[int, pa.DataType] = {
        BOOL: pa.bool_(),
        FLOAT4: pa.float32(),
        FLOAT8: pa.float64(),
        BYTEA: pa.binary(),
    }
    if oid in simple:
        return column, simple[oid], simple[oid], None
    if oid == OID:
        return f"{column}::int8", pa.int64(), pa.int64(), "int"
    if oid in _TEXTS:
        return (column if oid == TEXT else f"{column}::text"), pa.string(), pa.string(), "text"
    if oid == TIMESTAMPTZ:
        return _epoch_micros(column), pa.int64(), pa.timestamp("us", tz="UTC"), "timestamptz"
    if oid == TIMESTAMP:
        return _epoch_micros(column), pa.int64(), pa.timestamp("us"), "timestamp"
    if oid == DATE:
        return _epoch_days(column), pa.int32(), pa.date32(), "date"
    if oid == TIME:
        return f"(extract(epoch FROM {column}) * 1000000)::int8", pa.int64(), pa.time64("us"), None
    if oid == INTERVAL:
        return _interval_micros(column), pa.int64(), pa.duration("us"), None
    if oid == NUMERIC:
        return _numeric(column, typmod)
    # uuid, json, jsonb, enums, timetz, inet, money, ranges, composites, …: their text.
    return f"{column}::text", pa.string(), pa.string(), "text"


def _numeric(column: str, typmod: int) -> tuple[str, pa.DataType, pa.DataType, KeyKind | None]:
    import pyarrow as pa

    ps = _numeric_precision_scale(typmod)
    if ps is None or ps[1] < 0 or ps[1] > ps[0] or ps[0] > 76:
        # No fixed precision and scale (or ones Arrow decimals cannot hold): the exact text.
        return f"{column}::text", pa.string(), pa.string(), "text"
    precision, scale = ps
    arrow = pa.decimal128(precision, scale) if precision <= 38 else pa.decimal256(precision, scale)
    # NaN has no decimal form: it becomes NULL (documented).
    return f"NULLIF({column}, 'NaN')::text", pa.string(), arrow, "text"


def _element(
    column: str, oid: int, typmod: int, pg: PgType | None, depth: int
) -> tuple[str, pa.DataType, pa.DataType]:
    """(select expression, load type, Arrow type) of an array column."""
    import pyarrow as pa

    def nest(inner: pa.DataType) -> pa.DataType:
        for _ in range(depth):
            inner = pa.list_(inner)
        return inner

    if oid in _DIRECT_ELEMENTS:
        arrow = _scalar(column, oid, typmod, pg)[2]
        return column, nest(arrow), nest(arrow)
    if oid in _TEMPORAL_ELEMENTS:
        # psycopg loads these as date / datetime / time objects, which Arrow converts.
        temporal: dict[int, pa.DataType] = {
            DATE: pa.date32(),
            TIME: pa.time64("us"),
            TIMESTAMP: pa.timestamp("us"),
            TIMESTAMPTZ: pa.timestamp("us", tz="UTC"),
        }
        return column, nest(temporal[oid]), nest(temporal[oid])
    if oid == NUMERIC:
        arrow = _numeric(column, typmod)[2]
        return f"{column}::text[]", nest(pa.string()), nest(arrow)
    return f"{column}::text[]", nest(pa.string()), nest(pa.string())


def plan_column(column: PgColumn, types: dict[int, PgType]) -> ColumnPlan:
    """The plan of ``column``; ``types`` holds every type it refers to (domains followed)."""
    quoted = quote_ident(column.name)
    declared = types.get(column.type_oid)
    type_name = declared.name if declared else str(column.type_oid)
    pg, typmod = _resolve(column.type_oid, column.typmod, types)
    if pg is not None and pg.category == "A" and pg.elem:
        elem, elem_typmod = _resolve(pg.elem, typmod, types)
        elem_oid = elem.oid if elem else pg.elem
        select, load, arrow = _element(quoted, elem_oid, elem_typmod, elem, max(column.ndims, 1))
        return ColumnPlan(column.name, type_name, select, load, arrow)
    oid = pg.oid if pg else column.type_oid
    select, load, arrow, key_kind = _scalar(quoted, oid, typmod, pg)
    incremental = key_kind in ("int", "timestamp", "timestamptz", "date")
    return ColumnPlan(column.name, type_name, select, load, arrow, key_kind, incremental)


def require_orderable(plan: ColumnPlan, role: str) -> None:
    """Refuse a column that cannot order keyset pages (``role``: what it was named as)."""
    if role == "incremental_column" and not plan.incremental:
        raise ConfigError(
            f"postgres connector: incremental_column {plan.name!r} is {plan.pg_type}",
            hint="use a column that only grows: an integer id, serial, date, timestamp "
            "or timestamptz",
        )
    if plan.key_kind is None:
        raise ConfigError(
            f"postgres connector: key column {plan.name!r} is {plan.pg_type}, which cannot "
            "order pages",
            hint="key columns are integers, text, uuid, numeric, dates or timestamps",
        )
