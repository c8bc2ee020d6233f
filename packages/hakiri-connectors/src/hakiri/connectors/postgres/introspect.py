"""What the catalog says: relations of a schema, their columns and keys, a query's columns."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from hakiri.connectors.postgres.types import PgColumn, PgType
from hakiri.core.errors import ConfigError

if TYPE_CHECKING:
    import psycopg

__all__ = ["Relation", "describe_query", "describe_relations", "load_types"]

_KINDS = {"r": "table", "p": "table", "v": "view", "m": "materialized view", "f": "foreign table"}

_RELATIONS = """
SELECT c.oid, n.nspname, c.relname, c.relkind, obj_description(c.oid, 'pg_class')
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND NOT c.relispartition
  AND n.nspname = ANY(%s) {only}
ORDER BY n.nspname, c.relname
"""
_COLUMNS = """
SELECT a.attrelid, a.attname, a.atttypid, a.atttypmod, a.attndims
FROM pg_attribute a
WHERE a.attrelid = ANY(%s) AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attrelid, a.attnum
"""
_PRIMARY_KEYS = """
SELECT i.indrelid, a.attname
FROM pg_index i
JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, pos) ON true
JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
WHERE i.indisprimary AND i.indrelid = ANY(%s)
ORDER BY i.indrelid, k.pos
"""
_TYPES = """
SELECT t.oid, format_type(t.oid, NULL), t.typtype, t.typcategory, t.typelem,
       t.typbasetype, t.typtypmod
FROM pg_type t WHERE t.oid = ANY(%s)
"""


@dataclass(frozen=True, slots=True)
class Relation:
    """A table or view: where it is, what it holds, what identifies its rows."""

    schema: str
    name: str
    kind: str
    columns: tuple[PgColumn, ...]
    primary_key: tuple[str, ...]
    comment: str | None = None

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.name}"


def load_types(con: psycopg.Connection[Any], oids: Iterable[int]) -> dict[int, PgType]:
    """``pg_type`` rows of ``oids`` and of every element and base type they lead to."""
    types: dict[int, PgType] = {}
    wanted = {oid for oid in oids if oid}
    while wanted:
        rows = con.execute(_TYPES, (sorted(wanted),)).fetchall()
        for oid, name, typtype, category, elem, base, base_typmod in rows:
            types[int(oid)] = PgType(
                int(oid), str(name), str(typtype), str(category), int(elem), int(base),
                int(base_typmod),
            )  # fmt: skip
        wanted = {t.elem for t in types.values()} | {t.base for t in types.values()}
        wanted = {oid for oid in wanted if oid and oid not in types}
        wanted -= {int(row[0]) for row in rows}
    return types


def describe_relations(
    con: psycopg.Connection[Any], schemas: list[str], only: tuple[str, str] | None = None
) -> list[Relation]:
    """Tables and views of ``schemas`` (partitions appear as their parent), or just
    ``only`` = (schema, name) when given."""
    if only is not None:
        sql = _RELATIONS.format(only="AND c.relname = %s")
        rows = con.execute(sql, ([only[0]], only[1])).fetchall()
    else:
        rows = con.execute(_RELATIONS.format(only=""), (schemas,)).fetchall()
    oids = [int(row[0]) for row in rows]
    columns: dict[int, list[PgColumn]] = {oid: [] for oid in oids}
    keys: dict[int, list[str]] = {oid: [] for oid in oids}
    if oids:
        for relid, name, typid, typmod, ndims in con.execute(_COLUMNS, (oids,)).fetchall():
            columns[int(relid)].append(PgColumn(str(name), int(typid), int(typmod), int(ndims)))
        for relid, name in con.execute(_PRIMARY_KEYS, (oids,)).fetchall():
            keys[int(relid)].append(str(name))
    return [
        Relation(
            schema=str(schema),
            name=str(name),
            kind=_KINDS.get(str(kind), "table"),
            columns=tuple(columns[int(oid)]),
            primary_key=tuple(keys[int(oid)]),
            comment=comment,
        )
        for oid, schema, name, kind, comment in rows
    ]


def describe_query(con: psycopg.Connection[Any], query: str) -> list[PgColumn]:
    """The columns ``query`` returns (it is planned, not run: ``LIMIT 0``)."""
    cursor = con.cursor()
    cursor.execute(f"SELECT * FROM ({query.replace('%', '%%')}) AS _hakiri_q LIMIT 0", ())
    result = cursor.pgresult
    assert result is not None
    found: list[PgColumn] = []
    for i in range(result.nfields):
        raw = result.fname(i)
        name = raw.decode() if isinstance(raw, bytes) else str(raw)
        found.append(PgColumn(name, int(result.ftype(i)), int(result.fmod(i))))
    names = [c.name for c in found]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ConfigError(
            f"postgres connector: the query returns column {twice[0]!r} more than once",
            hint="give each selected column its own name (… AS other_name)",
        )
    return found
