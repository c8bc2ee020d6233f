"""How the CLI prints rows (``hakiri query``, ``hakiri source sample``): an aligned text
table, JSON, or CSV."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["render"]

_MAX_CELL = 60


def render(table: pa.Table, fmt: str, limit: int, *, truncated: bool = False) -> str:
    """``table`` as ``fmt`` (table, json or csv); ``truncated`` says more rows existed."""
    columns, rows = _rows(table)
    if fmt == "json":
        document = {"columns": columns, "rows": rows, "truncated": truncated}
        return json.dumps(document, default=str, ensure_ascii=False) + "\n"
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows(["" if v is None else _text(v) for v in row] for row in rows)
        return out.getvalue()
    return _table(table, columns, rows, limit, truncated)


def _rows(table: pa.Table) -> tuple[list[str], list[list[Any]]]:
    # Column-wise, so two columns with the same name both survive (to_pylist would not).
    values = [column.to_pylist() for column in table.columns]
    return list(table.column_names), [list(row) for row in zip(*values, strict=True)]


def _text(value: Any) -> str:
    if isinstance(value, dict | list):
        return json.dumps(value, default=str, ensure_ascii=False)
    return str(value)


def _cell(value: Any) -> str:
    text = "NULL" if value is None else _text(value)
    text = text.replace("\r", "\\r").replace("\n", "\\n").replace("\t", "\\t")
    return text if len(text) <= _MAX_CELL else text[: _MAX_CELL - 1] + "…"


def _table(
    table: pa.Table, columns: list[str], rows: list[list[Any]], limit: int, truncated: bool
) -> str:
    import pyarrow as pa

    numeric = [
        pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t)
        for t in table.schema.types
    ]
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [max([len(name), *(len(row[i]) for row in cells)]) for i, name in enumerate(columns)]
    lines = [
        _line([c.ljust(w) for c, w in zip(columns, widths, strict=True)]),
        _line(["-" * w for w in widths]),
    ]
    lines.extend(
        _line(
            [
                c.rjust(w) if right else c.ljust(w)
                for c, w, right in zip(row, widths, numeric, strict=True)
            ]
        )
        for row in cells
    )
    count = len(rows)
    footer = f"{count} row{'' if count == 1 else 's'}"
    if truncated:
        footer += f" (truncated at {limit})"
    return "\n".join([*lines, footer]) + "\n"


def _line(parts: Sequence[str]) -> str:
    return "  ".join(parts).rstrip()
