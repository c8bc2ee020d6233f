"""The Parquet writer: byte-identical output for identical input, never a half file."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from hakiri.context.parquet import write_parquet
from hakiri.core.objectstore import LocalObjectStore


def _table(rows: int = 5000) -> pa.Table:
    return pa.table(
        {
            "id": pa.array(range(rows), pa.int64()),
            "label": pa.array([f"label-{i % 17}" for i in range(rows)]),
            "score": pa.array([i / 3 for i in range(rows)]),
            "at": pa.array(range(rows), pa.timestamp("us", tz="UTC")),
            "tags": pa.array([[f"t{i % 3}"] for i in range(rows)]),
        }
    )


def test_the_same_table_gives_the_same_bytes(tmp_path: Path) -> None:
    table = _table()
    chunked = pa.concat_tables([table.slice(0, 7), table.slice(7, 2000), table.slice(2007)])
    with_pandas_metadata = table.replace_schema_metadata({"pandas": '{"index_columns": []}'})
    objects = LocalObjectStore(tmp_path)
    infos = [
        write_parquet(table, objects, "a.parquet"),
        write_parquet(table, objects, "b.parquet"),
        write_parquet(chunked, objects, "c.parquet"),
        write_parquet(with_pandas_metadata, objects, "d.parquet"),
    ]
    contents = {(tmp_path / f"{name}.parquet").read_bytes() for name in "abcd"}
    assert len(contents) == 1
    assert len({info.checksum for info in infos}) == 1


def test_info_describes_the_file_on_disk(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "dir" / "x.parquet"
    info = write_parquet(_table(100), LocalObjectStore(tmp_path), "deep/dir/x.parquet")
    data = path.read_bytes()
    assert info.rows == 100
    assert info.bytes == len(data)
    assert info.checksum == "sha256:" + hashlib.sha256(data).hexdigest()
    assert list(path.parent.iterdir()) == [path]  # no temporary file left behind


def test_what_is_read_back_is_what_was_written(tmp_path: Path) -> None:
    table = _table(50)
    write_parquet(table, LocalObjectStore(tmp_path), "x.parquet")
    back = pq.read_table(tmp_path / "x.parquet")
    assert back.schema == table.schema
    assert back.equals(table)
    metadata = pq.read_metadata(tmp_path / "x.parquet")
    assert metadata.row_group(0).column(0).compression == "ZSTD"
    assert b"pandas" not in (metadata.metadata or {})


def test_a_failed_write_leaves_neither_file_nor_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    objects = LocalObjectStore(tmp_path)

    def half_write(table: pa.Table, where: pa.NativeFile, **options: object) -> None:
        where.write(b"PAR1 half a file")
        raise OSError("disk full")

    monkeypatch.setattr(pq, "write_table", half_write)
    with pytest.raises(OSError, match="disk full"):
        write_parquet(_table(10), objects, "x.parquet")
    assert list(tmp_path.iterdir()) == []


def test_rewriting_a_path_replaces_the_whole_file(tmp_path: Path) -> None:
    path = tmp_path / "x.parquet"
    objects = LocalObjectStore(tmp_path)
    write_parquet(_table(10), objects, "x.parquet")
    info = write_parquet(_table(20), objects, "x.parquet")
    assert pq.read_table(path).num_rows == 20 == info.rows
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.parquet"]
