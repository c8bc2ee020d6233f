"""The shape of one read: which columns, how each is selected, and how pages are ordered.

How pages are cut depends on what identifies a row:

- ``keyset``: key columns (the primary key, or ``key_columns``) exist. Pages are
  ``WHERE (order…) > (last row's order…) ORDER BY order… LIMIT batch_rows``, ordered by
  (incremental column, key…) when incremental, else by the key. A page descriptor holds the
  last key, so it reads the same rows in any process; ties at the watermark cannot fall
  between two pages because the key breaks them.
- ``groups``: incremental without a key. A page holds whole groups of equal watermark
  values: ``(after, boundary]`` where ``boundary`` is the ``batch_rows``-th value above
  ``after``. Exact and resumable like keyset pages; a single value shared by more rows than
  ``batch_rows`` makes a bigger page.
- ``stream``: a snapshot without a key (a query, a view, a table without primary key). One
  server-side cursor streams the rows; a page descriptor holds how many rows came before it.
  Another process (a resumed run) re-runs the query and skips those rows: exact when the
  query's order is stable (an ``ORDER BY`` on unique columns; a table nobody writes to).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from hakiri.connectors.postgres.config import PostgresSourceConfig
from hakiri.connectors.postgres.introspect import Relation
from hakiri.connectors.postgres.types import (
    ColumnPlan,
    PgColumn,
    PgType,
    plan_column,
    quote_ident,
    require_orderable,
)
from hakiri.core.errors import ConfigError

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["Layout", "Mode", "build_layout", "rows_to_table", "stream_name"]

Mode = Literal["keyset", "groups", "stream"]


def stream_name(schema: str, name: str) -> str:
    """A relation's default stream name: its name, prefixed by its schema outside public."""
    return name if schema == "public" else f"{schema}_{name}"


@dataclass(frozen=True, slots=True)
class Layout:
    """Everything a page query needs, derived once from the catalog."""

    relation_sql: str
    """``"schema"."table"`` or ``(query)``, ``%`` escaped for psycopg."""
    plans: tuple[ColumnPlan, ...]
    """Selected columns: the output ones first, then hidden ones paging needs."""
    outputs: int
    """How many of ``plans`` are output columns."""
    mode: Mode
    order: tuple[int, ...] = ()
    """Indexes in ``plans`` of the columns pages are ordered by."""
    incremental: int | None = None
    """Index in ``plans`` of the incremental column."""
    primary_key: tuple[str, ...] = ()
    description: str = ""

    @property
    def source_sql(self) -> str:
        """What page queries select from."""
        return self.source_as("_hakiri_q")

    def source_as(self, alias: str) -> str:
        return f"{self.relation_sql} AS {alias}"

    @property
    def select_list(self) -> str:
        return ", ".join(plan.select_sql for plan in self.plans)

    def arrow_schema(self) -> pa.Schema:
        import pyarrow as pa

        return pa.schema([pa.field(p.name, p.arrow_type) for p in self.plans[: self.outputs]])

    def ordered_by(self) -> str:
        return ", ".join(quote_ident(self.plans[i].name) for i in self.order)

    def cast(self, index: int) -> str:
        """``%s::type`` for a parameter compared with column ``index``."""
        return "%s::" + self.plans[index].pg_type.replace("%", "%%")


def _by_name(columns: list[PgColumn], what: str) -> dict[str, PgColumn]:
    found = {c.name: c for c in columns}
    if not found:
        raise ConfigError(f"postgres connector: {what} has no columns")
    return found


def _pick(
    available: dict[str, PgColumn], names: list[str], option: str, what: str
) -> list[PgColumn]:
    picked = []
    for name in names:
        if name not in available:
            known = ", ".join(list(available)[:12])
            raise ConfigError(
                f"postgres connector: {option}: {what} has no column {name!r}",
                hint=f"its columns: {known}",
            )
        picked.append(available[name])
    return picked


def build_layout(
    config: PostgresSourceConfig,
    columns: list[PgColumn],
    types: dict[int, PgType],
    relation: Relation | None,
) -> Layout:
    """The layout of ``config``'s read over ``columns`` (a relation's or the query's)."""
    what = f"table {relation.qualified}" if relation else "the query"
    available = _by_name(columns, what)
    outputs = _pick(available, config.columns or list(available), "columns", what)
    primary_key = relation.primary_key if relation else ()
    key_names = list(config.key_columns or primary_key)
    key = _pick(available, key_names, "key_columns", what)
    inc_name = config.incremental_column
    incremental = _pick(available, [inc_name], "incremental_column", what) if inc_name else []
    order_names = list(dict.fromkeys([c.name for c in incremental] + [c.name for c in key]))
    selected = outputs + [available[n] for n in order_names if n not in {c.name for c in outputs}]
    plans = tuple(plan_column(c, types) for c in selected)
    index = {plan.name: i for i, plan in enumerate(plans)}
    if incremental:
        require_orderable(plans[index[incremental[0].name]], "incremental_column")
    for column in key:
        require_orderable(plans[index[column.name]], "key_columns")
    mode: Mode = "keyset" if key else ("groups" if incremental else "stream")
    if relation is not None:
        relation_sql = f"{quote_ident(relation.schema)}.{quote_ident(relation.name)}"
        description = f"{relation.kind} {relation.qualified}"
    else:
        assert config.query is not None
        relation_sql = f"({config.query.replace('%', '%%')})"
        description = "query"
    return Layout(
        relation_sql=relation_sql,
        plans=plans,
        outputs=len(outputs),
        mode=mode,
        order=tuple(index[n] for n in order_names),
        incremental=index[incremental[0].name] if incremental else None,
        primary_key=tuple(primary_key),
        description=description,
    )


def rows_to_table(layout: Layout, rows: list[tuple[Any, ...]]) -> pa.Table:
    """Rows as loaded by psycopg → an Arrow table of the output columns."""
    import pyarrow as pa

    plans = layout.plans[: layout.outputs]
    if rows:
        columns: list[Any] = list(zip(*rows, strict=True))
    else:
        columns = [()] * len(layout.plans)
    arrays = [plan.convert(values) for plan, values in zip(plans, columns, strict=False)]
    return pa.Table.from_arrays(arrays, schema=layout.arrow_schema())
