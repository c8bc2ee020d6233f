"""The file source: globs, one page per file, incremental by content hash, discover, errors."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from hakiri.connectors.file import connector
from hakiri.connectors.file.source import FileSource
from hakiri.core.cursor import CursorKind, JsonValue
from hakiri.core.errors import ConfigError, SourceError
from hakiri.testing.host import TestHost
from hakiri.testing.sources import ReadResult, read_all


def _write(path: Path, ids: list[int]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps({"id": i, "name": f"row {i}"}) + "\n" for i in ids))
    return path


def _source(host: TestHost, **options: Any) -> FileSource:
    return connector.create({"path": "data/**/*.jsonl", **options}, host)


def _sweep(host: TestHost, cursor: JsonValue = None, **options: Any) -> ReadResult:
    with _source(host, **options) as source:
        return read_all(source, cursor)


def _read_keys(result: ReadResult) -> list[str]:
    return [p.key for p in result.pages if p.key.startswith("file:")]


# -- which files --------------------------------------------------------------------------------


def test_recursive_glob_in_key_order_one_page_per_file(tmp_path: Path, host: TestHost) -> None:
    _write(tmp_path / "data" / "b.jsonl", [3, 4])
    _write(tmp_path / "data" / "a.jsonl", [1, 2])
    _write(tmp_path / "data" / "x" / "y" / "c.jsonl", [5])
    _write(tmp_path / "data" / "skip.csv", [])
    (tmp_path / "data" / "dir.jsonl").mkdir()  # a directory that matches is not a file
    result = _sweep(host)
    assert _read_keys(result) == [
        "file:data/a.jsonl",
        "file:data/b.jsonl",
        "file:data/x/y/c.jsonl",
    ]
    # Each page holds its own file's rows and nothing else: memory follows one file.
    assert [d.table.column("id").to_pylist() for d in result.data] == [[1, 2], [3, 4], [5]]
    assert [p.params["size"] for p in result.pages] == [
        (tmp_path / "data" / n).stat().st_size for n in ("a.jsonl", "b.jsonl", "x/y/c.jsonl")
    ]
    json.dumps([p.to_dict() for p in result.pages])


def test_single_star_stays_in_its_directory(tmp_path: Path, host: TestHost) -> None:
    _write(tmp_path / "data" / "a.jsonl", [1])
    _write(tmp_path / "data" / "x" / "c.jsonl", [2])
    assert _read_keys(_sweep(host, path="data/*.jsonl")) == ["file:data/a.jsonl"]


def test_absolute_paths_outside_the_project(tmp_path: Path) -> None:
    elsewhere = _write(tmp_path / "elsewhere" / "e.jsonl", [7])
    host = TestHost(tmp_path / "project")
    result = _sweep(host, path=str(tmp_path / "elsewhere" / "*.jsonl"))
    assert _read_keys(result) == [f"file:{elsewhere.as_posix()}"]
    assert result.column("id") == [7]


def test_an_empty_glob_is_an_empty_source(tmp_path: Path, host: TestHost) -> None:
    result = _sweep(host, path="nothing/*.csv")
    assert result.pages == [] and result.rows == []
    assert result.plan.cursor_kind is CursorKind.OPAQUE_TOKEN


def test_a_missing_named_file_is_an_error(tmp_path: Path, host: TestHost) -> None:
    with pytest.raises(SourceError) as caught:
        _sweep(host, path="data/orders.csv")
    assert "no such file" in caught.value.one_line()
    assert str(tmp_path / "data" / "orders.csv") in caught.value.one_line()


def test_a_directory_is_not_a_file(tmp_path: Path, host: TestHost) -> None:
    (tmp_path / "data").mkdir()
    with pytest.raises(SourceError) as caught:
        _sweep(host, path="data")
    assert "data is a directory" in caught.value.one_line()
    assert "path = 'data/*.csv'" in caught.value.one_line()


def test_an_unknown_extension_fails_the_plan_before_any_read(
    tmp_path: Path, host: TestHost
) -> None:
    _write(tmp_path / "data" / "a.jsonl", [1])
    (tmp_path / "data" / "README").write_text("not data")
    with pytest.raises(SourceError, match="cannot tell the format of data/README"):
        _sweep(host, path="data/*")


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"path": ""},
        {"path": "x.csv", "format": "xml"},
        {"path": "x.csv", "csv": {"delimiter": ";;"}},
        {"path": "x.csv", "csv": {"column_types": {"a": "integer please"}}},
        {"path": "x.csv", "csv": {"encoding": "no-such-codec"}},
        {"path": "x.parquet", "format": "parquet", "compression": "gzip"},
        {"path": "x.csv", "stream": "Not A Name"},
        {"path": "x.csv", "surprise": 1},
    ],
)
def test_bad_options_are_config_errors(host: TestHost, options: dict[str, Any]) -> None:
    with pytest.raises(ConfigError) as caught:
        connector.create(options, host)
    assert caught.value.one_line().startswith("file connector:")


# -- incremental by content -------------------------------------------------------------------


def test_incremental_sweeps(tmp_path: Path, host: TestHost) -> None:
    data = tmp_path / "data"
    _write(data / "a.jsonl", [1, 2])
    _write(data / "b.jsonl", [3])
    first = _sweep(host)
    assert sorted(first.column("id")) == [1, 2, 3]
    assert set(first.cursor["files"]) == {"data/a.jsonl", "data/b.jsonl"}
    # Only the last page reports the index; the others leave the cursor alone.
    assert [d.cursor is not None for d in first.data] == [False, True]

    unchanged = _sweep(host, first.cursor)
    assert _read_keys(unchanged) == [] and unchanged.rows == []

    _write(data / "b.jsonl", [3, 30])  # changed
    _write(data / "c.jsonl", [4])  # new
    second = _sweep(host, unchanged.cursor)
    assert _read_keys(second) == ["file:data/b.jsonl", "file:data/c.jsonl"]
    assert sorted(second.column("id")) == [3, 4, 30]

    (data / "a.jsonl").unlink()  # deleted: forgotten, so it reads again if it comes back
    third = _sweep(host, second.cursor)
    assert third.rows == []
    assert set(third.cursor["files"]) == {"data/b.jsonl", "data/c.jsonl"}
    _write(data / "a.jsonl", [1, 2])
    assert sorted(_sweep(host, third.cursor).column("id")) == [1, 2]


def test_a_rewrite_with_the_same_bytes_is_not_read_again(tmp_path: Path, host: TestHost) -> None:
    path = _write(tmp_path / "data" / "a.jsonl", [1])
    first = _sweep(host)
    content = path.read_bytes()
    path.unlink()
    path.write_bytes(content)  # a new inode and times, the same content
    assert _sweep(host, first.cursor).rows == []


def test_not_incremental_reads_everything_every_time(tmp_path: Path, host: TestHost) -> None:
    _write(tmp_path / "data" / "a.jsonl", [1])
    first = _sweep(host, incremental=False)
    assert first.cursor is None and "sha256" not in first.pages[0].params
    again = _sweep(host, first.cursor, incremental=False)
    assert again.column("id") == [1]


def test_a_file_changed_after_the_plan_is_left_for_the_next_run(
    tmp_path: Path, host: TestHost
) -> None:
    path = _write(tmp_path / "data" / "a.jsonl", [1])
    with _source(host) as source:
        plan = source.plan(None)
        _write(path, [1, 2])  # between plan and read
        data = source.read(plan.pages[0])
        assert data.table.num_rows == 0
        # The index records the planned content, so the next plan sees the change.
        following = read_all(source, data.cursor)
    assert following.column("id") == [1, 2]


def test_a_file_deleted_after_the_plan_reads_no_rows(tmp_path: Path, host: TestHost) -> None:
    path = _write(tmp_path / "data" / "a.jsonl", [1])
    with _source(host) as source:
        plan = source.plan(None)
        path.unlink()
        data = source.read(plan.pages[0])
    assert data.table.num_rows == 0 and data.cursor is not None


def test_a_fresh_source_reads_a_planned_page(tmp_path: Path, host: TestHost) -> None:
    _write(tmp_path / "data" / "a.jsonl", [1, 2])
    page = _source(host).plan(None).pages[0]
    with _source(host) as other:  # another process in real life: only the page is shared
        assert other.read(page).table.column("id").to_pylist() == [1, 2]


def test_a_cursor_of_another_connector_is_refused(host: TestHost) -> None:
    with pytest.raises(SourceError, match="not a file file index"):
        _sweep(host, "2026-01-01T00:00:00Z")


# -- the stat shortcut --------------------------------------------------------------------------


def _settled(cursor: dict[str, Any], key: str, digest: str) -> dict[str, Any]:
    """``cursor`` as if ``key`` had been hashed to ``digest`` long after its last change."""
    size, mtime, ctime, inode, _ = cursor["stat"][key]
    later = max(mtime, ctime) + 60 * 10**9
    return {
        "files": {**cursor["files"], key: digest},
        "stat": {**cursor["stat"], key: [size, mtime, ctime, inode, later]},
    }


def test_a_settled_unchanged_stat_stands_in_for_the_hash(tmp_path: Path, host: TestHost) -> None:
    _write(tmp_path / "data" / "a.jsonl", [1])
    first = _sweep(host)
    # A recorded hash that is not the file's: trusted (not recomputed) while the stat says
    # nothing changed, so nothing is read.
    cursor = _settled(first.cursor, "data/a.jsonl", "0" * 64)
    assert _read_keys(_sweep(host, cursor)) == []
    # always_hash recomputes it, sees the difference and reads the file.
    assert _read_keys(_sweep(host, cursor, always_hash=True)) == ["file:data/a.jsonl"]


def test_a_rewrite_that_restores_the_mtime_is_still_seen(tmp_path: Path, host: TestHost) -> None:
    path = _write(tmp_path / "data" / "a.jsonl", [1])
    first = _sweep(host)
    cursor = _settled(first.cursor, "data/a.jsonl", first.cursor["files"]["data/a.jsonl"])
    before = path.stat()
    path.write_text(path.read_text().replace("row 1", "row 9"))  # same size
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))  # as cp -p / rsync -t do
    assert path.stat().st_size == before.st_size
    assert _sweep(host, cursor).column("name") == ["row 9"]  # ctime moved: hashed again


def test_unsettled_records_are_hashed_again(tmp_path: Path, host: TestHost) -> None:
    # A file hashed within seconds of its last write may change again in the same timestamp
    # granule, so its stat is not trusted: the wrong hash below is caught.
    _write(tmp_path / "data" / "a.jsonl", [1])
    first = _sweep(host)
    cursor = {**first.cursor, "files": {"data/a.jsonl": "0" * 64}}
    assert _read_keys(_sweep(host, cursor)) == ["file:data/a.jsonl"]


# -- discover -----------------------------------------------------------------------------------


def test_discover_names_the_stream_and_reads_the_first_files_schema(
    tmp_path: Path, host: TestHost
) -> None:
    (tmp_path / "exports").mkdir()
    pq.write_table(
        pa.table({"id": pa.array([1], pa.int32()), "v": ["x"]}),
        tmp_path / "exports" / "orders_1.parquet",
    )
    (tmp_path / "exports" / "orders_2.parquet").write_bytes(b"never opened by discover")
    with connector.create({"path": "exports/orders_*.parquet", "file_column": "_file"}, host) as s:
        (stream,) = s.discover()
    assert stream.name == "orders"
    assert stream.schema is not None
    assert [(f.name, f.type) for f in stream.schema.fields] == [
        ("id", "int32"),
        ("v", "string"),
        ("_file", "string"),
    ]
    assert stream.options == {"path": "exports/orders_*.parquet"}


def test_discover_csv_from_its_first_block_and_a_stream_option(
    tmp_path: Path, host: TestHost
) -> None:
    (tmp_path / "a.csv").write_text("id,name\n1,x\n")
    with connector.create({"path": "*.csv", "stream": "people"}, host) as source:
        (stream,) = source.discover()
    assert stream.name == "people"
    assert stream.schema is not None and stream.schema.names == ["id", "name"]


def test_discover_of_an_empty_glob(tmp_path: Path, host: TestHost) -> None:
    with connector.create({"path": "data/**/*.jsonl"}, host) as source:
        (stream,) = source.discover()
    assert stream.name == "data" and stream.schema is None
