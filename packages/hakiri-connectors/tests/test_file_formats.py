"""The file formats: CSV, JSON Lines, JSON documents and Parquet, read from real files."""

from __future__ import annotations

import bz2
import gzip
import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from hakiri.connectors.file import connector
from hakiri.core.errors import SourceError
from hakiri.testing.host import TestHost
from hakiri.testing.sources import ReadResult, read_all

ROWS = [
    {"id": 1, "name": "ada", "score": 7.5, "ok": True, "at": "2026-01-01T00:00:01Z"},
    {"id": 2, "name": "bob", "score": 3.0, "ok": False, "at": "2026-01-01T00:00:02Z"},
]


def _read(host: TestHost, **options: Any) -> ReadResult:
    with connector.create(options, host) as source:
        return read_all(source)


def _csv_text(rows: list[dict[str, Any]], delimiter: str = ",") -> str:
    header = delimiter.join(rows[0])
    lines = [
        delimiter.join(str(v).lower() if isinstance(v, bool) else str(v) for v in r.values())
        for r in rows
    ]
    return "\n".join([header, *lines]) + "\n"


def _jsonl(rows: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in rows).encode()


def test_csv_is_typed_by_inference(tmp_path: Path, host: TestHost) -> None:
    (tmp_path / "rows.csv").write_text(_csv_text(ROWS))
    table = _read(host, path="rows.csv").table()
    assert table.column("id").to_pylist() == [1, 2]
    assert table.schema.field("id").type == pa.int64()
    assert table.schema.field("score").type == pa.float64()
    assert table.schema.field("ok").type == pa.bool_()
    assert pa.types.is_timestamp(table.schema.field("at").type)


def test_csv_options(tmp_path: Path, host: TestHost) -> None:
    # No header, ';' separated, single quotes, a declared type and custom nulls.
    (tmp_path / "raw.csv").write_text("1;'a;b';007\n2;'c';-\n")
    result = _read(
        host,
        path="raw.csv",
        csv={
            "delimiter": ";",
            "quote_char": "'",
            "header": False,
            "column_names": ["id", "name", "code"],
            "column_types": {"code": "string"},
            "null_values": ["-"],
        },
    )
    assert result.rows == [
        {"id": 1, "name": "a;b", "code": "007"},
        {"id": 2, "name": "c", "code": None},
    ]


def test_csv_without_header_gets_generated_names(tmp_path: Path, host: TestHost) -> None:
    (tmp_path / "raw.csv").write_text("1,x\n2,y\n")
    result = _read(host, path="raw.csv", csv={"header": False})
    assert result.rows == [{"f0": 1, "f1": "x"}, {"f0": 2, "f1": "y"}]


def test_csv_column_types(tmp_path: Path, host: TestHost) -> None:
    (tmp_path / "t.csv").write_text("id,at,amount\n1,2026-01-01T00:00:01Z,12.50\n")
    types = {"id": "int32", "at": "timestamp[ms, tz=UTC]", "amount": "decimal128(12, 2)"}
    table = _read(host, path="t.csv", csv={"column_types": types}).table()
    assert table.schema.field("id").type == pa.int32()
    assert table.schema.field("at").type == pa.timestamp("ms", tz="UTC")
    assert table.schema.field("amount").type == pa.decimal128(12, 2)


def test_csv_quoting_can_be_turned_off(tmp_path: Path, host: TestHost) -> None:
    (tmp_path / "q.csv").write_text('a,b\n"x,"y\n')
    assert _read(host, path="q.csv", csv={"quote_char": ""}).rows == [{"a": '"x', "b": '"y'}]


def test_json_lines(tmp_path: Path, host: TestHost) -> None:
    (tmp_path / "rows.jsonl").write_bytes(_jsonl(ROWS))
    (tmp_path / "more.ndjson").write_bytes(_jsonl([{"id": 3, "nested": {"a": [1, 2]}}]))
    result = _read(host, path="*.*json*")
    assert sorted(result.column("id")) == [1, 2, 3]
    nested = [p.table for p in result.data if "nested" in p.table.column_names][0]
    assert nested.column("nested").to_pylist() == [{"a": [1, 2]}]


def test_json_lines_whose_field_changes_kind_keeps_every_value(
    tmp_path: Path, host: TestHost
) -> None:
    # Arrow's reader refuses a field that is a number here and an object there; such a file
    # takes the record-by-record path, which keeps the odd values as JSON text.
    (tmp_path / "mixed.jsonl").write_bytes(_jsonl([{"id": 1, "v": 1}, {"id": 2, "v": {"x": 1}}]))
    result = _read(host, path="mixed.jsonl")
    assert result.column("id") == [1, 2]
    assert result.column("v") == ["1", '{"x": 1}']


@pytest.mark.parametrize(
    ("document", "records"),
    [
        (ROWS, None),
        ({"data": {"items": ROWS}, "total": 2}, "data.items"),
    ],
)
def test_json_documents(tmp_path: Path, host: TestHost, document: Any, records: str | None) -> None:
    (tmp_path / "doc.json").write_text(json.dumps(document, indent=2))
    options: dict[str, Any] = {"path": "doc.json"}
    if records:
        options["json"] = {"records": records}
    assert _read(host, **options).column("name") == ["ada", "bob"]


def test_a_json_object_is_one_record(tmp_path: Path, host: TestHost) -> None:
    (tmp_path / "one.json").write_text(json.dumps({"id": 9, "tags": ["a"]}))
    assert _read(host, path="one.json").rows == [{"id": 9, "tags": ["a"]}]


def test_json_records_path_that_is_missing(tmp_path: Path, host: TestHost) -> None:
    (tmp_path / "doc.json").write_text(json.dumps({"data": []}))
    with pytest.raises(SourceError, match=r"doc\.json has no 'items'"):
        _read(host, path="doc.json", json={"records": "items"})


def test_parquet_keeps_its_types(tmp_path: Path, host: TestHost) -> None:
    source = pa.table(
        {
            "id": pa.array([1, 2], pa.int16()),
            "when": pa.array([0, 1], pa.timestamp("us")),
            "tags": [["a"], []],
        }
    )
    pq.write_table(source, tmp_path / "t.parquet")
    table = _read(host, path="t.parquet").table()
    assert table.equals(source)


@pytest.mark.parametrize("suffix", [".csv.gz", ".jsonl.zst", ".csv.bz2"])
def test_compressed_files(tmp_path: Path, host: TestHost, suffix: str) -> None:
    raw = _jsonl(ROWS) if ".jsonl" in suffix else _csv_text(ROWS).encode()
    if suffix.endswith(".gz"):
        data = gzip.compress(raw)
    elif suffix.endswith(".bz2"):
        data = bz2.compress(raw)
    else:
        with pa.BufferOutputStream() as sink:
            with pa.CompressedOutputStream(sink, "zstd") as out:
                out.write(raw)
            data = sink.getvalue().to_pybytes()
    (tmp_path / f"rows{suffix}").write_bytes(data)
    assert _read(host, path=f"rows{suffix}").column("name") == ["ada", "bob"]


def test_format_option_overrides_the_extension(tmp_path: Path, host: TestHost) -> None:
    (tmp_path / "export.txt").write_bytes(_jsonl(ROWS))
    assert _read(host, path="export.txt", format="jsonl").column("id") == [1, 2]
    with pytest.raises(SourceError, match=r"cannot tell the format of export\.txt"):
        _read(host, path="export.txt")


def test_file_column_names_each_rows_file(tmp_path: Path, host: TestHost) -> None:
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "a.jsonl").write_bytes(_jsonl(ROWS[:1]))
    (tmp_path / "d" / "b.jsonl").write_bytes(_jsonl(ROWS[1:]))
    result = _read(host, path="d/*.jsonl", file_column="_file")
    assert result.column("_file") == ["d/a.jsonl", "d/b.jsonl"]
    with pytest.raises(SourceError, match="already has a column 'name'"):
        _read(host, path="d/*.jsonl", file_column="name")


# -- malformed files: one line naming the file and where ----------------------------------------


def _error(host: TestHost, **options: Any) -> str:
    with pytest.raises(SourceError) as caught:
        _read(host, **options)
    line = caught.value.one_line()
    assert "\n" not in line
    return line


def test_malformed_csv_names_the_row(tmp_path: Path, host: TestHost) -> None:
    (tmp_path / "bad.csv").write_text("a,b\n1,2\n3,4\n5,6,7\n")
    line = _error(host, path="bad.csv")
    assert "bad.csv" in line and "row 4" in line and "Expected 2 columns, got 3" in line


def test_csv_value_that_does_not_fit_its_declared_type(tmp_path: Path, host: TestHost) -> None:
    (tmp_path / "bad.csv").write_text("a\n1\nx\n")
    line = _error(host, path="bad.csv", csv={"column_types": {"a": "int64"}})
    assert "bad.csv" in line and "invalid value 'x'" in line


def test_malformed_json_lines_names_the_line(tmp_path: Path, host: TestHost) -> None:
    (tmp_path / "bad.jsonl").write_bytes(b'{"a": 1}\n{"a": 2}\n{"a": \n{"a": 4}\n')
    line = _error(host, path="bad.jsonl")
    assert "bad.jsonl" in line and "line 3" in line


def test_malformed_json_document_names_line_and_column(tmp_path: Path, host: TestHost) -> None:
    (tmp_path / "bad.json").write_text('[\n  {"a": 1},\n  {"a": 2,,}\n]\n')
    line = _error(host, path="bad.json")
    assert "bad.json" in line and "line 3" in line


def test_truncated_parquet(tmp_path: Path, host: TestHost) -> None:
    pq.write_table(pa.table({"a": list(range(100))}), tmp_path / "t.parquet")
    data = (tmp_path / "t.parquet").read_bytes()
    (tmp_path / "t.parquet").write_bytes(data[: len(data) // 2])
    line = _error(host, path="t.parquet")
    assert "cannot read t.parquet as Parquet" in line


def test_compressed_parquet_is_refused(tmp_path: Path, host: TestHost) -> None:
    (tmp_path / "t.parquet.gz").write_bytes(b"")
    assert "compressed Parquet" in _error(host, path="t.parquet.gz")


def test_corrupt_gzip(tmp_path: Path, host: TestHost) -> None:
    (tmp_path / "rows.csv.gz").write_bytes(gzip.compress(_csv_text(ROWS).encode())[:20])
    assert "rows.csv.gz" in _error(host, path="rows.csv.gz")


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("empty.csv", b""),
        ("header_only.csv", b"a,b\n"),
        ("empty.jsonl", b""),
        ("blank.jsonl", b"\n\n"),
        ("empty.json", b"[]"),
        ("empty.parquet", b""),
        ("empty.csv.gz", gzip.compress(b"")),
    ],
)
def test_empty_files_have_no_rows(
    tmp_path: Path, host: TestHost, name: str, content: bytes
) -> None:
    (tmp_path / name).write_bytes(content)
    assert _read(host, path=name).rows == []
