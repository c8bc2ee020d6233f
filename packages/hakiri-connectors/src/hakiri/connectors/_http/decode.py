"""Response bytes → Arrow, without a Python object per record.

The common path parses each response with Arrow's JSON reader (C++) and keeps the schema it
has seen so far as the reader's explicit schema: type inference — the costly part of
building Arrow from JSON — runs once per run instead of once per page, every page comes out
with the same columns, and fields that appear later are still inferred and merged in
(``unexpected_field_behavior="infer"``), so nothing is dropped.

Strings stay strings. Arrow's reader would turn ISO-8601 text into timestamps, but only
when every value on a page parses (fractional seconds don't), so the same field could be a
timestamp on one page and text on the next; and a cursor sent back as ``since=`` must be the
API's own text. Such fields are declared ``string`` in the explicit schema.

When a response does not fit this path (a type that changes within a page, records that
are not objects), ``decode`` returns None and the source uses the Python path
(``hakiri.core.batch.records_to_table``), which handles every shape.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj

from hakiri.core.batch import normalize_table

__all__ = ["ArrowDecoder", "DecodedPage"]

_FIRST = re.compile(rb"\s*(.)", re.DOTALL)
_ROOT = "r"
"""The key an array response is wrapped under: Arrow's reader wants objects."""


@dataclass(frozen=True, slots=True)
class DecodedPage:
    table: pa.Table
    document: dict[str, Any]
    """Only the values at the paths pagination asked for, as a nested dict."""
    cursor: Any


class _NotColumnar(Exception):
    """This response needs the Python path."""


def _untime(data_type: pa.DataType) -> pa.DataType:
    """``data_type`` with every timestamp (inferred from text) turned back into string."""
    if pa.types.is_timestamp(data_type):
        return pa.string()
    if pa.types.is_struct(data_type):
        return pa.struct([f.with_type(_untime(f.type)) for f in data_type])
    if pa.types.is_list(data_type):
        return pa.list_(data_type.value_field.with_type(_untime(data_type.value_type)))
    if pa.types.is_large_list(data_type):
        field = data_type.value_field.with_type(_untime(data_type.value_type))
        return pa.large_list(field)
    return data_type


def _untime_schema(schema: pa.Schema) -> pa.Schema:
    return pa.schema([f.with_type(_untime(f.type)) for f in schema])


class ArrowDecoder:
    """Decodes the pages of one source with one evolving explicit schema."""

    def __init__(
        self,
        records_path: str | None,
        document_paths: tuple[str, ...] = (),
        cursor_field: str | None = None,
    ) -> None:
        self._records = [p for p in (records_path or "").split(".") if p]
        self._document_paths = document_paths
        self._cursor = [p for p in (cursor_field or "").split(".") if p]
        self._schema: pa.Schema | None = None
        self._wrapped: bool | None = None
        # The last records schema normalize_table was asked about, and whether it changed
        # anything: pages share a schema, so the schema walk runs once, not per page.
        self._normal: tuple[pa.Schema, bool] | None = None

    def decode(self, body: bytes) -> DecodedPage | None:
        """The page as Arrow, or None when it must take the Python path."""
        match = _FIRST.match(body)
        start = match.group(1) if match else b""
        if start not in (b"[", b"{"):
            return None
        wrapped = start == b"["
        if wrapped and self._records:
            return None  # a path into an array response: the Python path says why it fails
        if self._wrapped is not None and wrapped != self._wrapped:
            self._schema = None  # the response's shape changed; start over
        self._wrapped = wrapped
        document = b'{"' + _ROOT.encode() + b'":' + body + b"}" if wrapped else body
        try:
            parsed = self._parse(document)
            table = self._records_of(parsed)
            cursor = self._max_cursor(table)
        except (
            _NotColumnar,
            KeyError,  # a records path the response lacks: the Python path says so clearly
            pa.ArrowInvalid,
            pa.ArrowTypeError,
            pa.ArrowNotImplementedError,
        ):
            # Only this page takes the Python path; the schema learnt so far still fits the
            # pages around it.
            return None
        values = {path: self._value_at(parsed, path) for path in self._document_paths}
        return DecodedPage(self._normalize(table), _nest(values), cursor)

    def _normalize(self, table: pa.Table) -> pa.Table:
        if self._normal is not None and self._normal[0] == table.schema:
            return normalize_table(table) if self._normal[1] else table
        normalized = normalize_table(table)
        self._normal = (table.schema, normalized is not table)
        return normalized

    # -- parsing ------------------------------------------------------------------------------

    def _read(self, document: bytes, schema: pa.Schema | None) -> pa.Table:
        options = pj.ParseOptions(
            newlines_in_values=True,
            explicit_schema=schema,
            unexpected_field_behavior="infer",
        )
        # One page is one block; threads would only add overhead at page sizes.
        read = pj.ReadOptions(use_threads=False, block_size=max(1 << 20, len(document) + 1))
        return pj.read_json(io.BytesIO(document), read_options=read, parse_options=options)

    def _parse(self, document: bytes) -> pa.Table:
        if self._schema is not None:
            try:
                table = self._read(document, self._schema)
            except (pa.ArrowInvalid, pa.ArrowTypeError):
                table = self._read(document, None)  # a type moved on (e.g. null → object)
        else:
            table = self._read(document, None)
        if table.num_rows != 1:
            raise _NotColumnar  # a document is one object; anything else is not JSON we know
        if table.schema == self._schema:
            return table  # the common case: the page fits the schema learnt so far
        seen = _untime_schema(table.schema)
        if seen == self._schema:
            return table
        merged = seen if self._schema is None else _merge(self._schema, seen)
        self._schema = merged
        if table.schema == merged:
            return table
        # Re-read with the merged schema: same columns as the pages before, no timestamps.
        return self._read(document, merged)

    # -- navigation ---------------------------------------------------------------------------

    def _records_of(self, parsed: pa.Table) -> pa.Table:
        path = [_ROOT] if self._wrapped else self._records
        if not path:
            return parsed  # an object response is one record
        column: Any = parsed.column(path[0]).combine_chunks()
        for part in path[1:]:
            if not pa.types.is_struct(column.type):
                raise _NotColumnar
            column = pc.struct_field(column, part)
        if column.null_count == len(column):
            return pa.table({})
        if pa.types.is_struct(column.type):
            return pa.Table.from_struct_array(column)  # an object: one record
        if not (pa.types.is_list(column.type) or pa.types.is_large_list(column.type)):
            raise _NotColumnar
        items = column.flatten()
        if len(items) == 0:
            return pa.table({})
        if not pa.types.is_struct(items.type) or items.null_count:
            raise _NotColumnar  # records that are not objects
        return pa.Table.from_struct_array(items)

    def _max_cursor(self, records: pa.Table) -> Any:
        if not self._cursor or records.num_rows == 0:
            return None
        name, *rest = self._cursor
        if name not in records.column_names:
            return None
        column: Any = records.column(name).combine_chunks()
        for part in rest:
            if not pa.types.is_struct(column.type):
                return None
            column = pc.struct_field(column, part)
        if not (
            pa.types.is_string(column.type)
            or pa.types.is_integer(column.type)
            or pa.types.is_floating(column.type)
        ):
            raise _NotColumnar  # let the Python path order whatever this is
        return pc.max(column).as_py()

    def _value_at(self, parsed: pa.Table, path: str) -> Any:
        parts = [p for p in path.split(".") if p]
        if self._wrapped or not parts or parts[0] not in parsed.column_names:
            return None
        value: Any = parsed.column(parts[0])[0]
        for part in parts[1:]:
            if isinstance(value, pa.StructScalar) and part in value.type.names:
                value = value[part]
            elif isinstance(value, pa.ListScalar) and part.isdigit() and int(part) < len(value):
                value = value[int(part)]
            else:
                return None
        return value.as_py()


def _merge(known: pa.Schema, seen: pa.Schema) -> pa.Schema:
    """The schema that holds both, or ``_NotColumnar`` when a field changed type."""
    try:
        return pa.unify_schemas([known, seen], promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise _NotColumnar from exc


def _nest(values: dict[str, Any]) -> dict[str, Any]:
    """``{"links.next": v}`` → ``{"links": {"next": v}}``, for ``get_path``."""
    document: dict[str, Any] = {}
    for path, value in values.items():
        parts = [p for p in path.split(".") if p]
        if not parts:
            continue
        node = document
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                break
            node = child
        else:
            node[parts[-1]] = value
    return document
