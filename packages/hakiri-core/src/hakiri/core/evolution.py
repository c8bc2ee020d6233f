"""Schema evolution: how a batch meets its table's schema, decided by the table's policy.

Pure functions over Arrow, no I/O. ``reconcile`` compares a batch with the table's schema
column by column (by name) and returns the batch conformed to the table's (possibly new)
schema, with the decisions it took; the runtime records each decision as a catalog event.

A batch column is, against the table's column of the same name:

- the same type, or a type that converts to the table's without loss (``int32`` into an
  ``int64`` column, ``int64`` into ``double``, a struct missing some fields, a column null on
  every row): not a change, the values are cast;
- a **new column**;
- a **widening**: the table's type can grow to hold both (``int32 → int64``,
  ``int → double``, ``float → double``, ``null →`` anything, ``string → large_string``, a
  finer timestamp unit, a larger decimal, a struct gaining fields, a list whose element
  widens);
- **incompatible**: anything else (``double → string``, ``int → string`` …).

Columns the batch lacks are filled with nulls under every policy. What each policy does
with the three kinds of change is ``decide``'s table (docs/schema-evolution.md shows it).

Arrow-backed: needs the ``arrow`` extra (``hakiri-core[arrow]``); importing this module does
not, the first use does (``hakiri.core._arrow``).
"""

from __future__ import annotations

import json
from base64 import b64encode
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any, cast

from hakiri.core.errors import SchemaFrozen, SchemaIncompatible, SchemaRejected
from hakiri.core.records import SchemaAction, SchemaChange, SchemaPolicy

if TYPE_CHECKING:
    import pyarrow as pa
    import pyarrow.compute as pc
else:
    from hakiri.core._arrow import pa, pc

__all__ = [
    "INCOMPATIBLE",
    "NEW_COLUMN",
    "VARIANT_SUFFIX",
    "WIDENING",
    "Reconciled",
    "common_type",
    "conform_array",
    "conform_table",
    "decide",
    "fits",
    "reconcile",
    "variant_column",
]

NEW_COLUMN = "new_column"
WIDENING = "widening"
INCOMPATIBLE = "incompatible"

VARIANT_SUFFIX = "__variant"
"""``variant`` keeps the values of column ``c`` that do not fit its type in ``c__variant``."""


def _arrow_errors() -> tuple[type[Exception], ...]:
    """What Arrow raises when values do not convert (a function: pyarrow loads on first use)."""
    return (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError)


def variant_column(column: str) -> str:
    """The name of the column that holds ``column``'s values as JSON text under ``variant``."""
    return column + VARIANT_SUFFIX


@dataclass(frozen=True, slots=True)
class Reconciled:
    """A batch after ``reconcile``: conformed to ``schema``, the table's schema from now on."""

    table: pa.Table
    schema: pa.Schema
    changes: tuple[SchemaChange, ...]
    """The decisions taken (empty when the batch fitted the table as it was)."""
    discarded_rows: int = 0
    """Rows of the batch left out (``discard_row`` only)."""


# -- which type holds both ---------------------------------------------------------------------

_INTS = {8: "int8", 16: "int16", 32: "int32", 64: "int64"}
_UNITS = ("s", "ms", "us", "ns")


def common_type(table: pa.DataType, batch: pa.DataType) -> pa.DataType | None:
    """The type a column of type ``table`` must have to also hold ``batch``'s values without
    loss: ``table`` itself when ``batch`` fits as it is, a wider type for a widening, None
    when the change is incompatible."""
    if table.equals(batch) or pa.types.is_null(batch):
        return table
    if pa.types.is_null(table):
        return batch
    if pa.types.is_dictionary(batch):
        return common_type(table, batch.value_type)
    for rule in _RULES:
        result = rule(table, batch)
        if result is not None:
            return result
    return None


def _numeric(table: pa.DataType, batch: pa.DataType) -> pa.DataType | None:
    is_int, is_float = pa.types.is_integer, pa.types.is_floating
    if is_int(table) and is_int(batch):
        return _integer(table, batch)
    if is_float(table) and is_float(batch):
        return table if table.bit_width >= batch.bit_width else batch
    if (is_int(table) and is_float(batch)) or (is_float(table) and is_int(batch)):
        # int -> float64 is the widening data tools agree on (integers past 2**53 round).
        return pa.float64()
    if pa.types.is_decimal(table) and pa.types.is_decimal(batch):
        return _decimal(table, batch)
    return None


def _integer(table: pa.DataType, batch: pa.DataType) -> pa.DataType | None:
    signed_table = pa.types.is_signed_integer(table)
    if signed_table == pa.types.is_signed_integer(batch):
        return table if table.bit_width >= batch.bit_width else batch
    signed, unsigned = (table, batch) if signed_table else (batch, table)
    if signed.bit_width > unsigned.bit_width:
        return signed
    wider = _INTS.get(unsigned.bit_width * 2)
    return None if wider is None else cast(pa.DataType, getattr(pa, wider)())


def _decimal(table: pa.DataType, batch: pa.DataType) -> pa.DataType | None:
    t, b = cast(pa.Decimal128Type, table), cast(pa.Decimal128Type, batch)
    scale = max(t.scale, b.scale)
    precision = max(t.precision - t.scale, b.precision - b.scale) + scale
    wide = pa.types.is_decimal256(table) or pa.types.is_decimal256(batch)
    if precision <= 38 and not wide:
        return pa.decimal128(precision, scale)
    if precision <= 76:
        return pa.decimal256(precision, scale)
    return None


def _text(table: pa.DataType, batch: pa.DataType) -> pa.DataType | None:
    for family, large in (
        ((pa.types.is_string, pa.types.is_large_string, pa.types.is_string_view), pa.large_string),
        ((pa.types.is_binary, pa.types.is_large_binary, pa.types.is_binary_view), pa.large_binary),
    ):
        if any(f(table) for f in family) and any(f(batch) for f in family):
            is_large = family[1]
            return large() if is_large(table) or is_large(batch) else table
    return None


def _temporal(table: pa.DataType, batch: pa.DataType) -> pa.DataType | None:
    if pa.types.is_timestamp(table) and pa.types.is_timestamp(batch):
        t, b = cast(pa.TimestampType, table), cast(pa.TimestampType, batch)
        if t.tz != b.tz:
            return None
        return table if _UNITS.index(t.unit) >= _UNITS.index(b.unit) else batch
    if pa.types.is_date(table) and pa.types.is_date(batch):
        return table if pa.types.is_date64(table) else batch
    return None


def _nested(table: pa.DataType, batch: pa.DataType) -> pa.DataType | None:
    if pa.types.is_struct(table) and pa.types.is_struct(batch):
        return _struct(table, batch)
    lists = (pa.types.is_list, pa.types.is_large_list)
    if any(f(table) for f in lists) and any(f(batch) for f in lists):
        t, b = cast("pa.ListType[Any]", table), cast("pa.ListType[Any]", batch)
        element = common_type(t.value_type, b.value_type)
        if element is None:
            return None
        value = t.value_field.with_type(element)
        value = value.with_nullable(t.value_field.nullable or b.value_field.nullable)
        large = pa.types.is_large_list(table) or pa.types.is_large_list(batch)
        return pa.large_list(value) if large else pa.list_(value)
    return None


def _struct(table: pa.StructType, batch: pa.StructType) -> pa.DataType | None:
    theirs = {f.name: f for f in batch}
    fields = []
    for ours in table:
        other = theirs.pop(ours.name, None)
        if other is None:
            fields.append(ours)
            continue
        kind = common_type(ours.type, other.type)
        if kind is None:
            return None
        fields.append(ours.with_type(kind).with_nullable(ours.nullable or other.nullable))
    # Fields the table's rows never had: nullable, whatever the batch says.
    fields.extend(f.with_nullable(True) for f in theirs.values())
    return pa.struct(fields)


_RULES: tuple[Callable[[pa.DataType, pa.DataType], pa.DataType | None], ...] = (
    _numeric,
    _text,
    _temporal,
    _nested,
)


# -- converting values -------------------------------------------------------------------------


def _nulls(length: int, kind: pa.DataType) -> pa.Array[Any]:
    # The stubs type nulls/chunked_array per literal type; these are typed by value here.
    nulls: Any = pa.nulls
    return cast("pa.Array[Any]", nulls(length, kind))


def _chunked(chunks: list[Any], kind: pa.DataType) -> pa.ChunkedArray[Any]:
    chunked: Any = pa.chunked_array
    return cast("pa.ChunkedArray[Any]", chunked(chunks, kind))


def _int_to_float(source: pa.DataType, target: pa.DataType) -> bool:
    """Whether casting ``source`` to ``target`` turns integers into floats somewhere."""
    if pa.types.is_integer(source) and pa.types.is_floating(target):
        return True
    if pa.types.is_struct(source) and pa.types.is_struct(target):
        theirs = {f.name: f.type for f in target}
        return any(_int_to_float(f.type, theirs[f.name]) for f in source if f.name in theirs)
    if hasattr(source, "value_type") and hasattr(target, "value_type"):
        return _int_to_float(source.value_type, target.value_type)
    return False


def conform_array(array: pa.Array[Any], target: pa.DataType) -> pa.Array[Any]:
    """``array`` as ``target``: nested fields matched by name, missing ones null.

    The cast is safe (a value that would change raises ``ArrowInvalid``) except from
    integers to floats, the one widening that may round (past 2**53).
    """
    if array.type.equals(target):
        return array
    if pa.types.is_null(array.type):
        return _nulls(len(array), target)
    try:
        return array.cast(target, safe=not _int_to_float(array.type, target))
    except pa.ArrowNotImplementedError:
        # Arrow has no cast between these (nested) types; the values may still convert one
        # by one (a struct whose changed field is null). Strict: a misfit raises.
        converted: Any = pa.array(array.to_pylist(), type=target)
        return cast("pa.Array[Any]", converted)


def _conform_column(column: pa.ChunkedArray[Any], target: pa.DataType) -> pa.ChunkedArray[Any]:
    if column.type.equals(target):
        return column
    return _chunked([conform_array(chunk, target) for chunk in column.chunks], target)


def conform_table(data: pa.Table, schema: pa.Schema) -> pa.Table:
    """``data`` with exactly ``schema``'s columns, in its order, cast to its types; columns
    ``data`` lacks are null. Every batch of a table goes through this, so its files agree."""
    if data.schema.equals(schema):
        return data
    columns = [
        _conform_column(data.column(f.name), f.type)
        if f.name in data.column_names
        else _chunked([_nulls(data.num_rows, f.type)], f.type)
        for f in schema
    ]
    return pa.Table.from_arrays(columns, schema=schema)


def _round_trips(piece: pa.Array[Any], target: pa.DataType) -> bool:
    try:
        there = conform_array(piece, target)
        back = conform_array(there, piece.type)
    except _arrow_errors():
        return False
    return bool(back.equals(piece))


def _fit_chunk(array: pa.Array[Any], target: pa.DataType) -> list[bool]:
    """Per value: whether it is null or converts to ``target`` and back unchanged.

    Whole ranges are tried at once and split only where they fail, so a column that fits
    costs one cast, and k misfits cost about k·log(n) small casts.
    """
    result = [True] * len(array)
    pending = [(0, len(array))]
    while pending:
        start, length = pending.pop()
        piece = array.slice(start, length)
        if piece.null_count == length or _round_trips(piece, target):
            continue
        if length == 1:
            result[start] = False
            continue
        half = length // 2
        pending.append((start + half, length - half))
        pending.append((start, half))
    return result


def fits(column: pa.ChunkedArray[Any] | pa.Array[Any], target: pa.DataType) -> pa.BooleanArray:
    """True where a value fits ``target`` exactly (null, or converts there and back
    unchanged: ``3.0`` fits ``int64``, ``3.5`` does not; ``"7"`` does, ``"high"`` does not)."""
    chunks = column.chunks if isinstance(column, pa.ChunkedArray) else [column]
    mask: list[bool] = []
    for chunk in chunks:
        mask.extend(_fit_chunk(chunk, target))
    return pa.array(mask, pa.bool_())


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes):
        return b64encode(value).decode("ascii")
    return str(value)


def _to_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=_json_default)


# -- the decision table -----------------------------------------------------------------------


def decide(policy: SchemaPolicy, change: str, *, creating: bool = False) -> SchemaAction:
    """What ``policy`` does with a ``change`` (``new_column``, ``widening``,
    ``incompatible``).

    ``creating``: the table is being created by this run (it has no committed schema yet), so
    new columns and widenings are what its first schema is made of and are accepted under
    every policy; incompatible changes still follow the policy.
    """
    if change != INCOMPATIBLE and (
        creating or policy in (SchemaPolicy.EVOLVE, SchemaPolicy.VARIANT)
    ):
        return SchemaAction.ADDED if change == NEW_COLUMN else SchemaAction.WIDENED
    if policy is SchemaPolicy.DISCARD_ROW:
        return SchemaAction.DISCARDED
    if policy is SchemaPolicy.VARIANT:
        return SchemaAction.VARIANT
    return SchemaAction.REJECTED


@dataclass(slots=True)
class _Work:
    """What ``reconcile`` accumulates while it walks the batch's columns."""

    types: dict[str, pa.DataType]
    """Target type per table column, widened where decided."""
    added: list[pa.Field[Any]] = field(default_factory=list)
    dropped: set[str] = field(default_factory=set)
    keep: pa.BooleanArray | None = None
    typed: dict[str, pa.ChunkedArray[Any]] = field(default_factory=dict)
    variants: dict[str, pa.Array[Any]] = field(default_factory=dict)
    changes: list[SchemaChange] = field(default_factory=list)
    rejected: list[SchemaChange] = field(default_factory=list)


def reconcile(
    table_schema: pa.Schema | None,
    batch: pa.Table,
    policy: SchemaPolicy,
    *,
    table: str = "the table",
    creating: bool = False,
) -> Reconciled:
    """Meet ``batch`` with a table of schema ``table_schema`` under ``policy``.

    ``table_schema`` None: the table is new and the batch defines its schema. ``table`` names
    the table in error messages. Raises ``SchemaFrozen`` or ``SchemaIncompatible`` (with the
    refused decisions in ``changes``) when the policy refuses the batch.
    """
    if table_schema is None:
        return Reconciled(batch, batch.schema, ())
    if batch.schema.equals(table_schema):
        return Reconciled(batch, table_schema, ())  # the common case, kept cheap
    work = _Work(types={f.name: f.type for f in table_schema})
    for name in batch.column_names:
        _column(work, name, batch.column(name), policy, creating)
    if work.rejected:
        raise _rejection(table, policy, tuple(work.rejected))
    schema = _target_schema(table_schema, batch, work)
    discarded = 0
    if work.keep is not None:
        kept = batch.filter(work.keep)
        discarded = batch.num_rows - kept.num_rows
        batch = kept
    try:
        conformed = _assemble(batch, schema, work)
    except _arrow_errors() as exc:
        raise SchemaIncompatible(
            f"table {table!r}: a value does not fit the table's schema: {_first_line(exc)}",
            hint='schema_policy = "variant" keeps values that do not fit as JSON text',
        ) from None
    return Reconciled(conformed, schema, tuple(work.changes), discarded)


def _column(
    work: _Work,
    name: str,
    column: pa.ChunkedArray[Any],
    policy: SchemaPolicy,
    creating: bool,
) -> None:
    """Classify one batch column and record what the policy makes of it."""
    before = work.types.get(name)
    all_null = column.null_count == len(column)
    if before is not None:
        common = common_type(before, column.type)
        if all_null or (common is not None and common.equals(before)):
            return  # not a change: the values convert as they are
        change = INCOMPATIBLE if common is None else WIDENING
    else:
        common, change = column.type, NEW_COLUMN
        if all_null and policy in (SchemaPolicy.FREEZE, SchemaPolicy.DISCARD_ROW) and not creating:
            work.dropped.add(name)  # carries no data: not a change under these policies
            return
    action = decide(policy, change, creating=creating)
    decision = SchemaChange(
        policy=policy,
        action=action,
        change=change,
        column=name,
        before=None if before is None else str(before),
        after=str(common if action is SchemaAction.WIDENED else column.type),
        rows=len(column) - column.null_count,
    )
    if action is SchemaAction.ADDED:
        work.added.append(pa.field(name, column.type, nullable=True))
    elif action is SchemaAction.WIDENED:
        assert common is not None
        work.types[name] = common
    elif action is SchemaAction.REJECTED:
        work.rejected.append(decision)
        return
    elif action is SchemaAction.DISCARDED:
        decision = _discard(work, name, column, before, decision)
    else:
        assert before is not None
        decision = _variant(work, name, column, before, decision)
    if decision.rows or action in (SchemaAction.ADDED, SchemaAction.WIDENED):
        work.changes.append(decision)


def _discard(
    work: _Work,
    name: str,
    column: pa.ChunkedArray[Any],
    before: pa.DataType | None,
    decision: SchemaChange,
) -> SchemaChange:
    if before is None:
        # A new column: rows where it is null lose nothing when it is left out.
        work.dropped.add(name)
        mask = cast(pa.BooleanArray, column.is_null().combine_chunks())
    else:
        mask = fits(column, before)
    work.keep = mask if work.keep is None else pc.and_(work.keep, mask)
    return replace(decision, rows=len(mask) - mask.true_count)


def _variant(
    work: _Work,
    name: str,
    column: pa.ChunkedArray[Any],
    before: pa.DataType,
    decision: SchemaChange,
) -> SchemaChange:
    holder = variant_column(name)
    if holder in work.types and not pa.types.is_string(work.types[holder]):
        raise SchemaIncompatible(
            f"column {holder!r} exists as {work.types[holder]}, so it cannot hold {name!r}'s "
            "values as JSON text",
            hint=f"rename column {holder!r} with a transform",
        )
    mask = fits(column, before)
    misfits = pc.invert(mask)
    values = column.combine_chunks()
    json_values: list[str | None] = [None] * len(values)
    where = [i for i, bad in enumerate(misfits.to_pylist()) if bad]
    for i, value in zip(where, values.take(pa.array(where, pa.int64())).to_pylist(), strict=True):
        json_values[i] = _to_json(value)
    if not where:
        return replace(decision, rows=0)
    # The typed column keeps the values that fit; the others are null there.
    try:
        typed = conform_array(pc.if_else(mask, values, _nulls(len(values), values.type)), before)
    except _arrow_errors():
        # No cast between the types at all: only nulls fitted.
        typed = _nulls(len(values), before)
    work.typed[name] = _chunked([typed], before)
    work.variants[holder] = pa.array(json_values, pa.string())
    if holder not in work.types and all(f.name != holder for f in work.added):
        work.added.append(pa.field(holder, pa.string(), nullable=True))
    return replace(decision, rows=len(where), variant_column=holder)


def _target_schema(table_schema: pa.Schema, batch: pa.Table, work: _Work) -> pa.Schema:
    fields = []
    for ours in table_schema:
        nullable = ours.nullable
        if not nullable:
            # A non-null column stays so only while every batch fills it.
            theirs = batch.schema.field(ours.name) if ours.name in batch.column_names else None
            nullable = theirs is None or theirs.nullable or ours.name in work.typed
        fields.append(ours.with_type(work.types[ours.name]).with_nullable(nullable))
    fields.extend(work.added)
    return pa.schema(fields)


def _assemble(batch: pa.Table, schema: pa.Schema, work: _Work) -> pa.Table:
    # ``batch`` is already filtered (discard_row); typed and variant columns come only with
    # ``variant``, which keeps every row, so all sources have the batch's length.
    columns: list[pa.ChunkedArray[Any]] = []
    for target in schema:
        name = target.name
        source: pa.ChunkedArray[Any] | None
        if name in work.variants:
            source = _chunked([work.variants[name]], pa.string())
        elif name in work.typed:
            source = work.typed[name]
        elif name in batch.column_names and name not in work.dropped:
            source = batch.column(name)
        else:
            source = None
        if source is None:
            columns.append(_chunked([_nulls(batch.num_rows, target.type)], target.type))
        else:
            columns.append(_conform_column(source, target.type))
    return pa.Table.from_arrays(columns, schema=schema)


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def _describe(change: SchemaChange) -> str:
    if change.change == NEW_COLUMN:
        return f"column {change.column!r} is new ({change.after})"
    return f"column {change.column!r} changed type {change.before} → {change.after}"


def _rejection(
    table: str, policy: SchemaPolicy, rejected: Sequence[SchemaChange]
) -> SchemaRejected:
    first = rejected[0]
    more = ""
    if len(rejected) > 1:
        others = ", ".join(repr(c.column) for c in rejected[1:])
        more = f" (and {len(rejected) - 1} more: {others})"
    details = {
        "table": table,
        "policy": policy.value,
        "column": first.column,
        "before": first.before,
        "after": first.after,
    }
    if policy is SchemaPolicy.FREEZE:
        return SchemaFrozen(
            f'table {table!r} is frozen (schema_policy = "freeze"): {_describe(first)}{more}; '
            "nothing of the batch was written",
            hint='set schema_policy = "evolve" in the pipeline\'s [destination] to accept new '
            'columns and widened types, or "discard_row" to drop rows that do not fit',
            changes=tuple(rejected),
            **details,
        )
    return SchemaIncompatible(
        f"table {table!r}: {_describe(first)}{more}, which no type holds both of; "
        f'schema_policy = "{policy.value}" refuses it and nothing of the batch was written',
        hint=f'set schema_policy = "variant" in the pipeline\'s [destination] to keep such '
        f'values as JSON text in {variant_column(first.column)!r}, or "discard_row" to drop '
        "the rows that do not fit",
        changes=tuple(rejected),
        **details,
    )
