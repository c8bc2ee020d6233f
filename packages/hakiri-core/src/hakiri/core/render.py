"""How the CLI prints rows (``hakiri query``, ``hakiri source sample``): an aligned text
table, JSON, or CSV.

Data may hold terminal control sequences (ESC, OSC, C1, bidi overrides). The table format
writes every control character of a cell or a column name as a visible escape
(``hakiri.core.terminal.printable``: ``\\x1b``, ``\\n``…), so it never reaches the terminal. JSON
is the exact data: its strings escape C0 controls, and here DEL, C1 and bidi controls too
(``\\u009b``), which parses back to the same values. CSV is the exact data too and is not
escaped: it is meant for files and programs, not for reading on a terminal.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from hakiri.core.terminal import printable

if TYPE_CHECKING:
    import pyarrow as pa
else:
    from hakiri.core._arrow import pa

__all__ = ["render"]

_MAX_CELL = 60
# Controls JSON leaves raw (it escapes only C0), and the line separators JavaScript chokes on.
_JSON_RAW = re.compile("[\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2028\u2029\u2066-\u2069]")


def render(
    table: pa.Table,
    fmt: str,
    limit: int,
    *,
    truncated: bool = False,
    truncated_by: str | None = None,
    max_bytes: int | None = None,
) -> str:
    """``table`` as ``fmt`` (table, json or csv); ``truncated`` says more rows existed, and
    ``truncated_by`` what cut them: ``"rows"`` (``limit``) or ``"bytes"`` (``max_bytes``)."""
    columns, rows = _rows(table)
    if fmt == "json":
        document: dict[str, Any] = {"columns": columns, "rows": rows, "truncated": truncated}
        if truncated:
            document["truncated_by"] = truncated_by or "rows"
        return _json_safe(json.dumps(document, default=str, ensure_ascii=False)) + "\n"
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows(["" if v is None else _text(v) for v in row] for row in rows)
        return out.getvalue()
    cut = None
    if truncated:
        cut = f"at {max_bytes:,} bytes" if truncated_by == "bytes" else f"at {limit}"
    return _table(table, columns, rows, cut)


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
    text = printable(text)
    return text if len(text) <= _MAX_CELL else text[: _MAX_CELL - 1] + "…"


def _table(table: pa.Table, columns: list[str], rows: list[list[Any]], cut: str | None) -> str:
    numeric = [
        pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t)
        for t in table.schema.types
    ]
    cells = [[_cell(v) for v in row] for row in rows]
    columns = [printable(name) for name in columns]
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
    if cut is not None:
        footer += f" (truncated {cut})"
    return "\n".join([*lines, footer]) + "\n"


def _json_safe(text: str) -> str:
    # Such characters only occur inside JSON strings, where \uXXXX means the same.
    return _JSON_RAW.sub(lambda m: f"\\u{ord(m.group(0)):04x}", text)


def _line(parts: Sequence[str]) -> str:
    return "  ".join(parts).rstrip()
