"""Records and batches. A batch is an Arrow table: columnar from the source to Parquet.

Arrow-backed: needs the ``arrow`` extra (``hakiri-core[arrow]``); importing this module does
not, the first use does (``hakiri.core._arrow``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from hakiri.core.schema import Schema

if TYPE_CHECKING:
    import pyarrow as pa
else:
    from hakiri.core._arrow import pa

__all__ = ["Batch", "Record", "normalize_table", "records_to_table"]

Record = Mapping[str, Any]
"""One row as a mapping of column name to a JSON-like value."""


@dataclass(frozen=True, slots=True)
class Batch:
    """A page of rows on its way from a source to the store."""

    table: pa.Table

    @classmethod
    def from_records(cls, records: Sequence[Record]) -> Batch:
        return cls(records_to_table(records))

    @property
    def num_rows(self) -> int:
        return int(self.table.num_rows)

    @property
    def schema(self) -> Schema:
        return Schema.from_arrow(self.table.schema)


def records_to_table(records: Sequence[Record]) -> pa.Table:
    """Build an Arrow table from JSON-like records.

    Columns are the union of every record's keys in first-seen order (not only the first
    record's). A column whose values cannot share one Arrow type (a number in one row, an
    object in another) is kept as JSON text rather than failing the page.
    """
    if not records:
        return pa.table({})
    try:
        # The stubs type pa.array by its overloads; records of objects give a StructArray.
        array = cast(Any, pa.array(cast(Any, records)))
        if not pa.types.is_struct(array.type):
            raise pa.ArrowInvalid("records are not objects")
        table = pa.Table.from_struct_array(cast(pa.StructArray, array))
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        table = _records_to_table_by_column(records)
    return normalize_table(table)


def _records_to_table_by_column(records: Sequence[Record]) -> pa.Table:
    names: dict[str, None] = {}
    for record in records:
        if not isinstance(record, Mapping):
            raise pa.ArrowInvalid(f"a record is a {type(record).__name__}, not an object")
        names.update(dict.fromkeys(record))
    columns: dict[str, pa.Array[Any]] = {}
    for name in names:
        values = [record.get(name) for record in records]
        try:
            columns[name] = pa.array(values)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            columns[name] = pa.array(
                [None if v is None else json.dumps(v, sort_keys=True) for v in values],
                type=pa.string(),
            )
    return pa.table(columns)


def _drop_empty_structs(data_type: pa.DataType) -> pa.DataType | None:
    """The type without struct fields that have no children (Parquet cannot store them)."""
    if pa.types.is_struct(data_type):
        kept = []
        for field in (data_type.field(i) for i in range(data_type.num_fields)):
            inner = _drop_empty_structs(field.type)
            if inner is not None:
                kept.append(field.with_type(inner))
        return pa.struct(kept) if kept else None
    if pa.types.is_list(data_type) or pa.types.is_large_list(data_type):
        inner = _drop_empty_structs(data_type.value_type)
        if inner is None:
            return None
        return pa.list_(inner) if pa.types.is_list(data_type) else pa.large_list(inner)
    return data_type


def normalize_table(table: pa.Table) -> pa.Table:
    """Make a table storable as Parquet: drop columns (and nested fields) that are empty
    objects on every row of the page; they carry no data and Parquet has no type for them."""
    fields = []
    for field in table.schema:
        new_type = _drop_empty_structs(field.type)
        if new_type is not None:
            fields.append(field.with_type(new_type))
    target = pa.schema(fields)
    if target == table.schema:
        return table
    # Arrow casts a struct to a struct with a subset of its fields by name, so one cast
    # removes the empty fields at every depth.
    return table.select([f.name for f in fields]).cast(target)


def concat_batches(tables: Iterable[pa.Table]) -> pa.Table:
    """Concatenate page tables whose schemas may differ (new columns, new nested fields)."""
    return pa.concat_tables(list(tables), promote_options="permissive")
