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
from hakiri.connectors.file.tracking import INDEX_PAGE_KEYS
from hakiri.core.cursor import CursorKind, JsonValue
from hakiri.core.errors import ConfigError, SourceError
from hakiri.core.records import Page
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
    assert result.plan.cursor_kind is CursorKind.KEYED and result.cursor is None


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
    assert set(first.cursor) == {"data/a.jsonl", "data/b.jsonl"}
    # Each page reports its own file's version, and nothing else.
    assert [d.cursor for d in first.data] == [
        {"data/a.jsonl": first.cursor["data/a.jsonl"]},
        {"data/b.jsonl": first.cursor["data/b.jsonl"]},
    ]
    assert [p.params["sha256"] for p in first.pages] == [
        first.cursor[k]["sha256"] for k in ("data/a.jsonl", "data/b.jsonl")
    ]

    unchanged = _sweep(host, first.cursor)
    assert _read_keys(unchanged) == [] and unchanged.rows == []

    _write(data / "b.jsonl", [3, 30])  # changed
    _write(data / "c.jsonl", [4])  # new
    second = _sweep(host, unchanged.cursor)
    assert _read_keys(second) == ["file:data/b.jsonl", "file:data/c.jsonl"]
    assert sorted(second.column("id")) == [3, 4, 30]

    (data / "a.jsonl").unlink()  # deleted: forgotten, so it reads again if it comes back
    third = _sweep(host, second.cursor)
    assert third.rows == [] and _read_keys(third) == []
    # A small index page carries the tombstone.
    assert [(p.key, d.cursor) for p, d in zip(third.pages, third.data, strict=True)] == [
        ("index:0", {"data/a.jsonl": None})
    ]
    assert set(third.cursor) == {"data/b.jsonl", "data/c.jsonl"}
    assert _sweep(host, third.cursor).pages == []  # forgotten once
    _write(data / "a.jsonl", [1, 2])
    assert sorted(_sweep(host, third.cursor).column("id")) == [1, 2]


def _assert_small(pages: list[Page], limit: int = 4 * 1024) -> None:
    for page in pages:
        size = len(json.dumps(page.to_dict()))
        assert size < limit, f"page {page.key} is {size} bytes: pages are pointers"


def test_pages_stay_small_however_many_files(tmp_path: Path, host: TestHost) -> None:
    # Each page carries its own file's version; nothing carries the whole index.
    keys = [f"data/part-{i:04d}.jsonl" for i in range(1000)]
    for i, key in enumerate(keys):
        _write(tmp_path / key, [i])
    first = _sweep(host)
    assert _read_keys(first) == [f"file:{k}" for k in keys]
    assert len(first.cursor) == 1000 and all(len(d.cursor) == 1 for d in first.data)
    _assert_small(first.pages)

    changed = [keys[3], keys[500], keys[998]]
    for key in changed:
        _write(tmp_path / key, [int(key[-10:-6]), 10_000])
    second = _sweep(host, first.cursor)
    assert _read_keys(second) == [f"file:{k}" for k in changed]
    assert sorted(second.column("id")) == [3, 500, 998, 10_000, 10_000, 10_000]
    _assert_small(second.pages)  # index pages too (new stat records of settled files)
    assert set(second.cursor) == set(keys)

    for key in keys[100:900]:  # many deleted: tombstones spread over small index pages
        (tmp_path / key).unlink()
    third = _sweep(host, second.cursor)
    assert _read_keys(third) == [] and third.rows == []
    assert len(third.pages) >= 800 // INDEX_PAGE_KEYS
    _assert_small(third.pages)
    assert [p.key for p in third.pages] == [f"index:{n}" for n in range(len(third.pages))]
    assert set(third.cursor) == set(keys[:100] + keys[900:])
    assert _read_keys(_sweep(host, third.cursor)) == []


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
        assert data.table.num_rows == 0 and set(data.cursor) == {"data/a.jsonl"}
        # The next plan forgets it again.
        following = read_all(source, data.cursor)
    assert following.rows == [] and following.cursor == {}


def test_a_fresh_source_reads_a_planned_page(tmp_path: Path, host: TestHost) -> None:
    _write(tmp_path / "data" / "a.jsonl", [1, 2])
    page = _source(host).plan(None).pages[0]
    with _source(host) as other:  # another process in real life: only the page is shared
        assert other.read(page).table.column("id").to_pylist() == [1, 2]


@pytest.mark.parametrize(
    "cursor",
    [
        "2026-01-01T00:00:00Z",
        {"a.csv": '"etag-of-s3"'},
        # The index this connector kept before its cursor was keyed.
        {"files": {"data/a.jsonl": "0" * 64}, "stat": {}},
    ],
)
def test_a_cursor_of_another_connector_is_refused(host: TestHost, cursor: JsonValue) -> None:
    with pytest.raises(SourceError, match="not a file file index"):
        _sweep(host, cursor)


# -- the stat shortcut --------------------------------------------------------------------------


def _settled(cursor: dict[str, Any], path: Path, key: str, digest: str) -> dict[str, Any]:
    """``cursor`` as if ``key`` had been hashed to ``digest`` long after its last change
    (with the stat record a settled file gets)."""
    stat = path.stat()
    record = [stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino]
    return {**cursor, key: {"sha256": digest, "stat": record}}


def test_a_settled_unchanged_stat_stands_in_for_the_hash(tmp_path: Path, host: TestHost) -> None:
    path = _write(tmp_path / "data" / "a.jsonl", [1])
    first = _sweep(host)
    # A recorded hash that is not the file's: trusted (not recomputed) while the stat says
    # nothing changed, so nothing is read.
    cursor = _settled(first.cursor, path, "data/a.jsonl", "0" * 64)
    assert _read_keys(_sweep(host, cursor)) == []
    # always_hash recomputes it, sees the difference and reads the file.
    assert _read_keys(_sweep(host, cursor, always_hash=True)) == ["file:data/a.jsonl"]


def test_a_rewrite_that_restores_the_mtime_is_still_seen(tmp_path: Path, host: TestHost) -> None:
    path = _write(tmp_path / "data" / "a.jsonl", [1])
    first = _sweep(host)
    cursor = _settled(first.cursor, path, "data/a.jsonl", first.cursor["data/a.jsonl"]["sha256"])
    before = path.stat()
    path.write_text(path.read_text().replace("row 1", "row 9"))  # same size
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))  # as cp -p / rsync -t do
    assert path.stat().st_size == before.st_size
    assert _sweep(host, cursor).column("name") == ["row 9"]  # ctime moved: hashed again


def test_unsettled_records_are_hashed_again(tmp_path: Path, host: TestHost) -> None:
    # A file hashed within seconds of its last write may change again in the same timestamp
    # granule, so its stat is not kept, and the wrong hash below is caught. (An mtime in the
    # future keeps the file unsettled however long the test takes.)
    path = _write(tmp_path / "data" / "a.jsonl", [1])
    future = path.stat().st_mtime_ns + 3600 * 10**9
    os.utime(path, ns=(future, future))
    first = _sweep(host)
    assert first.cursor["data/a.jsonl"].keys() == {"sha256"}  # no stat record
    cursor = {"data/a.jsonl": {"sha256": "0" * 64}}
    assert _read_keys(_sweep(host, cursor)) == ["file:data/a.jsonl"]
    # Hashed again to the recorded hash: nothing to read and nothing for the cursor to learn.
    assert _sweep(host, first.cursor).pages == []


def test_touching_a_file_reads_nothing(tmp_path: Path, host: TestHost) -> None:
    path = _write(tmp_path / "data" / "a.jsonl", [1])
    first = _sweep(host)
    os.utime(path)  # new times, same bytes: hashed again, not read
    again = _sweep(host, first.cursor)
    assert _read_keys(again) == [] and again.rows == []
    # At most an index page with the file's new stat record.
    assert all(p.key.startswith("index:") for p in again.pages)
    assert again.cursor["data/a.jsonl"]["sha256"] == first.cursor["data/a.jsonl"]["sha256"]


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
