"""The store's data files go through the ObjectStore port (hakiri.context.files)."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest

from hakiri.context._views import plan_view
from hakiri.context.catalog import open_catalog
from hakiri.context.destination import ContextDestination
from hakiri.context.files import StoreFiles
from hakiri.context.testing import commit_request, run_record
from hakiri.core.errors import StoreError, StoreFull
from hakiri.core.objectstore import LocalObjectStore
from hakiri.core.ports import Catalog, ObjectInfo, ObjectStore, PutBody, PutResult
from hakiri.core.records import StagedFile, TableRecord
from hakiri.core.schema import Schema
from hakiri.testing.host import TestHost


class Recording:
    """An ObjectStore that records every call, then does it on ``inner``."""

    def __init__(self, inner: ObjectStore) -> None:
        self.inner = inner
        self.calls: list[tuple[str, str]] = []

    @property
    def url(self) -> str:
        return self.inner.url

    def put(self, key: str, body: PutBody) -> PutResult:
        self.calls.append(("put", key))
        return self.inner.put(key, body)

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        self.calls.append(("list", prefix))
        return self.inner.list(prefix)

    def delete(self, key: str, *, if_match: str | None = None) -> None:
        self.calls.append(("delete", key))
        self.inner.delete(key, if_match=if_match)

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)


class FullAfter:
    """An ObjectStore whose disk fills up after ``chunks`` chunks of a put's body."""

    url = "memory://full"

    def __init__(self, chunks: int) -> None:
        self.chunks = chunks
        self.read = 0

    def put(self, key: str, body: PutBody) -> PutResult:
        assert not isinstance(body, bytes | bytearray | memoryview | os.PathLike)
        for _ in body:  # type: ignore[union-attr]
            self.read += 1
            if self.read > self.chunks:
                raise StoreFull(f"no space left while writing {key!r}")
        raise AssertionError("the whole body was read")


@pytest.fixture
def catalog(tmp_path: Path) -> Iterator[Catalog]:
    catalog = open_catalog(f"sqlite:///{tmp_path}/catalog.db")
    yield catalog
    catalog.close()


@pytest.fixture
def recording(tmp_path: Path) -> Recording:
    return Recording(LocalObjectStore(tmp_path / "store"))


@pytest.fixture
def destination(tmp_path: Path, catalog: Catalog, recording: Recording) -> ContextDestination:
    host = TestHost(tmp_path, tmp_path / "store", catalog=catalog)
    return ContextDestination(host, StoreFiles(recording))


def _table(first_id: int = 1, rows: int = 3) -> pa.Table:
    ids = list(range(first_id, first_id + rows))
    return pa.table({"id": ids, "name": [f"n{i}" for i in ids]})


def _wide(rows: int) -> pa.Table:
    # Incompressible enough that the encoder hands the store many chunks.
    return pa.table({"id": range(rows), "text": [os.urandom(24).hex() for _ in range(rows)]})


def test_staging_committing_and_collecting_go_through_the_port(
    destination: ContextDestination, catalog: Catalog, recording: Recording
) -> None:
    catalog.create_run(run_record("2024-kept"))
    kept = destination.stage("issues", _table(), run_id="2024-kept", seq=0)
    destination.commit(commit_request("2024-kept", files=(kept,)))
    dead = destination.stage("issues", _table(4), run_id="2024-dead", seq=0)

    removed = destination.prepare("issues", live_runs=set())

    assert removed == [dead.path]
    assert recording.calls == [
        ("put", kept.path),
        ("put", dead.path),
        ("list", "context/issues/"),
        ("delete", dead.path),
    ]
    assert [info.key for info in recording.inner.list()] == [kept.path]


def test_a_store_that_fills_up_mid_file_stops_the_write(tmp_path: Path) -> None:
    store = FullAfter(chunks=2)
    with pytest.raises(StoreFull, match="no space left"):
        StoreFiles(store).write("context/t/r1-000000.parquet", _wide(200_000))
    assert store.read == 3  # and the encoder, told so, stopped (it would hang otherwise)


def test_a_failed_put_leaves_nothing_in_the_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    objects = LocalObjectStore(tmp_path / "store")
    files = StoreFiles(objects)
    files.write("context/t/r1-000000.parquet", _table())
    real_write = os.write
    writes = 0

    def full_disk(fd: int, data: bytes) -> int:
        nonlocal writes
        writes += 1
        if writes > 1:
            raise OSError(28, "No space left on device")
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", full_disk)
    with pytest.raises(StoreFull, match="no space left"):
        files.write("context/t/r1-000001.parquet", _wide(100_000))
    monkeypatch.undo()
    assert sorted(os.listdir(tmp_path / "store" / "context" / "t")) == ["r1-000000.parquet"]


def test_an_encoding_that_fails_midway_stores_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pyarrow.parquet as pq

    def fails_after_3_mib(table: pa.Table, where: pa.NativeFile, **options: object) -> None:
        for _ in range(48):  # parts go to the store (in its own thread) as they fill
            where.write(os.urandom(64 * 1024))
        raise MemoryError("the encoder ran out of memory")

    monkeypatch.setattr(pq, "write_table", fails_after_3_mib)
    files = StoreFiles.local(tmp_path / "store")
    with pytest.raises(MemoryError, match="ran out of memory"):
        files.write("context/t/r1-000000.parquet", _table())
    assert os.listdir(tmp_path / "store" / "context" / "t") == []  # no object, no temporary


def test_prepare_sweeps_what_killed_puts_left(tmp_path: Path, catalog: Catalog) -> None:
    destination = ContextDestination(TestHost(tmp_path, tmp_path / "store", catalog=catalog))
    folder = destination.store_root / "context" / "issues"
    folder.mkdir(parents=True)
    fresh = folder / ".hakiri-tmp-0123456789abcdef"
    fresh.write_bytes(b"half a put")
    stale = folder / ".hakiri-tmp-fedcba9876543210"
    stale.write_bytes(b"half a put")
    then = time.time() - 3600
    os.utime(stale, (then, then))
    legacy = folder / "2024-dead-000003.parquet.tmp"  # what the writer before the port left
    legacy.write_bytes(b"half a file")

    # A live run might be staging: only a temporary nobody has written to for long goes.
    removed = destination.prepare("issues", live_runs={"2024-live"})
    assert removed == sorted(
        [
            "context/issues/.hakiri-tmp-fedcba9876543210",
            "context/issues/2024-dead-000003.parquet.tmp",
        ]
    )
    assert fresh.exists()
    # No live run: under the pipeline's lock nothing else writes there.
    assert destination.prepare("issues", live_runs=set()) == [
        "context/issues/.hakiri-tmp-0123456789abcdef"
    ]
    assert os.listdir(folder) == []


def test_queries_need_a_local_store(tmp_path: Path, catalog: Catalog) -> None:
    local = StoreFiles.local(tmp_path / "store")
    key = "context/issues/r1-000000.parquet"
    assert local.local_path(key) == str(
        tmp_path / "store" / "context" / "issues" / "r1-000000.parquet"
    )

    remote = StoreFiles(FullAfter(0))  # any store that is not a local directory
    with pytest.raises(StoreError, match="queries need a local store") as caught:
        remote.local_path(key)
    assert "\n" not in caught.value.one_line()

    catalog.create_run(run_record("r1"))
    info = local.write(key, _table())
    staged = StagedFile(
        key, info.rows, info.bytes, info.checksum, Schema.from_arrow(_table().schema)
    )
    result = catalog.commit(commit_request("r1", files=(staged,)))
    table = catalog.get_table("issues")
    assert isinstance(table, TableRecord)
    with pytest.raises(StoreError, match="queries need a local store"):
        plan_view(table, list(result.files), catalog.schema_versions("issues"), remote)
    view = plan_view(table, list(result.files), catalog.schema_versions("issues"), local)
    assert view is not None and view.paths == (local.local_path(key),)
