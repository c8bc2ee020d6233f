"""``printable``: nothing a terminal would act on survives, everything else is kept."""

from __future__ import annotations

import json

import pyarrow as pa
from hypothesis import given
from hypothesis import strategies as st

from hakiri.core.render import render
from hakiri.core.terminal import UNSAFE, printable

HOSTILE = "\x1b]52;c;SGVsbG8=\x07\x1b[2J\x9b31m\x7f\u202eevil\x00\r\n\t"


def test_controls_become_visible_escapes() -> None:
    assert printable(HOSTILE) == (
        "\\x1b]52;c;SGVsbG8=\\x07\\x1b[2J\\x9b31m\\x7f\\u202eevil\\x00\\r\\n\\t"
    )
    assert printable("plain, ünïcode, 数据") == "plain, ünïcode, 数据"


@given(st.text())
def test_no_unsafe_character_survives(text: str) -> None:
    shown = printable(text)
    assert UNSAFE.search(shown) is None
    if UNSAFE.search(text) is None:
        assert shown == text


def test_table_output_escapes_cells_and_column_names() -> None:
    table = pa.table({f"na{HOSTILE}me": [HOSTILE, "ok"]})
    out = render(table, "table", 10)
    assert all(c == "\n" or UNSAFE.match(c) is None for c in out)
    assert "\\x1b]52" in out and "na\\x1b]52" in out


def test_json_output_is_the_exact_data_with_no_raw_controls() -> None:
    table = pa.table({f"na{HOSTILE}me": [HOSTILE, None]})
    out = render(table, "json", 10)
    assert UNSAFE.search(out.rstrip("\n")) is None
    document = json.loads(out)
    assert document["columns"] == [f"na{HOSTILE}me"]
    assert document["rows"] == [[HOSTILE], [None]]


def test_csv_output_is_the_exact_data() -> None:
    out = render(pa.table({"v": [HOSTILE]}), "csv", 10)
    assert HOSTILE in out
