"""The ObjectStore conformance suite: every implementation must pass it unchanged.

Use it by subclassing and providing an ``open_store`` fixture — a callable that opens a new
store over the same (initially empty) objects each time it is called, so that the races
below run between separate clients, as separate machines would::

    class TestMyStore(ObjectStoreConformance):
        @pytest.fixture
        def open_store(self, tmp_path):
            opened = []
            def open_one():
                opened.append(MyStore(tmp_path / "objects"))
                return opened[-1]
            yield open_one
            for store in opened:
                store.close()

Set ``measure_memory = False`` when the store's server runs in the test's own process (its
allocations would be counted as the client's), and ``large_if_match = False`` for a server
known to ignore If-Match on CompleteMultipartUpload (moto 5.2). Importing this module needs pytest.
"""

from __future__ import annotations

import hashlib
import io
import threading
import tracemalloc
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import ClassVar

import pytest

from hakiri.core.errors import (
    InvalidObjectKey,
    ObjectNotFound,
    PreconditionFailed,
    StoreError,
)
from hakiri.core.ports import ObjectStore, PutResult

__all__ = [
    "INVALID_KEYS",
    "ODD_KEYS",
    "ObjectStoreConformance",
    "pattern_chunks",
    "stream_large_object",
]

MiB = 1 << 20

INVALID_KEYS = (
    "",
    "/absolute",
    "..",
    ".",
    "a/../b",
    "../escape",
    "a/./b",
    "a//b",
    "trailing/",
    "nul\x00byte",
    "new\nline",
    "back\\slash",
    "x" * 1025,
    "y" * 256,
    ".hakiri-tmp-0123",
    "dir/.hakiri-tmp-0123",
)
"""Keys every store refuses, before touching anything."""

ODD_KEYS = (
    "with space/naïve ✓ file.txt",
    "日本語/データ 1.parquet",
    "odd/a+b=c&d?e#f;g,h.txt",
    "odd/%20literal%2F",
    "odd/emoji-😀",
    "dots/..hidden",
    "dots/a..b",
    "dots/.hidden",
    "-dash/_under~tilde",
)
"""Valid keys that an encoding bug would mangle."""


def pattern_chunks(total: int, chunk: int = MiB, *, seed: bytes = b"") -> Iterator[bytes]:
    """``total`` bytes of a fixed pattern, made one ``chunk`` at a time (never held whole)."""
    made = 0
    number = 0
    while made < total:
        block = hashlib.sha256(seed + number.to_bytes(8, "big")).digest()
        size = min(chunk, total - made)
        yield (block * (size // len(block) + 1))[:size]
        made += size
        number += 1


def _digest(chunks: Iterator[bytes]) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    for chunk in chunks:
        digest.update(chunk)
        size += len(chunk)
    return digest.hexdigest(), size


def stream_large_object(store: ObjectStore, size: int, *, measure: bool = True) -> int | None:
    """Put ``size`` bytes from a generator, stream them back and check them; return the peak
    of memory allocated meanwhile (None when not ``measure``-d, or already being traced)."""
    expected = _digest(pattern_chunks(size))
    # A first call starts the store's client (botocore's S3 model alone is megabytes).
    assert list(store.list("large/")) == []
    tracing = measure and not tracemalloc.is_tracing()
    if tracing:
        tracemalloc.start()
    try:
        written = store.put("large/object.bin", pattern_chunks(size))
        with store.open("large/object.bin") as reader:
            assert reader.info.size == size and reader.info.etag == written.etag
            assert _digest(reader.chunks()) == expected
        peak = tracemalloc.get_traced_memory()[1] if tracing else None
    finally:
        if tracing:
            tracemalloc.stop()
    assert written.size == size and store.head("large/object.bin").size == size
    return peak


class _Boom(Exception):
    """What a failing body iterator raises."""


def _failing_body(before: int) -> Iterator[bytes]:
    yield from pattern_chunks(before)
    raise _Boom("the body's source failed")


class ObjectStoreConformance:
    """The behaviour every ``ObjectStore`` shares (see ``hakiri.core.ports.ObjectStore``)."""

    measure_memory: ClassVar[bool] = True
    large_size: ClassVar[int] = 20 * MiB
    """Bigger than a store's part size, so S3 stores go through a multipart upload."""
    large_if_match: ClassVar[bool] = True
    """Whether the backend refuses a stale ``put_if_match`` of a body larger than a part
    (S3: If-Match on CompleteMultipartUpload, which AWS honours and moto 5.2 ignores)."""
    absent_writers: ClassVar[int] = 32
    absent_rounds: ClassVar[int] = 5
    match_writers: ClassVar[int] = 16
    match_rounds: ClassVar[int] = 3

    @pytest.fixture
    def open_store(self) -> Callable[[], ObjectStore]:
        raise NotImplementedError("subclasses provide an open_store fixture")

    @pytest.fixture
    def store(self, open_store: Callable[[], ObjectStore]) -> ObjectStore:
        return open_store()

    # -- put, get, head, open ---------------------------------------------------------------

    def test_put_then_read_back(self, store: ObjectStore) -> None:
        before = datetime.now(UTC) - timedelta(days=1)
        written = store.put("docs/readme.txt", b"hello object store")
        assert written == PutResult("docs/readme.txt", 18, written.etag)
        assert written.etag and '"' not in written.etag

        head = store.head("docs/readme.txt")
        assert (head.key, head.size, head.etag) == ("docs/readme.txt", 18, written.etag)
        assert head.last_modified.tzinfo is not None
        assert before < head.last_modified < datetime.now(UTC) + timedelta(days=1)

        got = store.get("docs/readme.txt")
        assert got.data == b"hello object store"
        assert got.info == head
        with store.open("docs/readme.txt") as reader:
            assert reader.info == head
            assert reader.read() == b"hello object store"

    def test_put_replaces_and_the_version_follows_the_content(self, store: ObjectStore) -> None:
        first = store.put("k", b"one")
        second = store.put("k", b"two")
        assert second.etag != first.etag
        assert store.get("k").data == b"two"
        assert store.head("k").etag == second.etag
        again = store.put("k", b"two")
        assert store.get("k").data == b"two" and again.size == 3

    def test_put_takes_bytes_paths_files_and_iterators(
        self, store: ObjectStore, tmp_path: Path
    ) -> None:
        source = tmp_path / "source.bin"
        source.write_bytes(b"from a file" * 1000)
        bodies: dict[str, object] = {
            "bytes": b"plain bytes",
            "bytearray": bytearray(b"a bytearray"),
            "memoryview": memoryview(b"a memoryview"),
            "path": source,
            "file": io.BytesIO(b"a binary file"),
            "iterator": iter([b"chunk one, ", b"", b"chunk two"]),
            "generator": (part for part in (b"gen", b"erated")),
            "empty": b"",
            "empty-iterator": iter([]),
        }
        expected = {
            "bytes": b"plain bytes",
            "bytearray": b"a bytearray",
            "memoryview": b"a memoryview",
            "path": b"from a file" * 1000,
            "file": b"a binary file",
            "iterator": b"chunk one, chunk two",
            "generator": b"generated",
            "empty": b"",
            "empty-iterator": b"",
        }
        for name, body in bodies.items():
            result = store.put(f"bodies/{name}", body)  # type: ignore[arg-type]
            assert result.size == len(expected[name]), name
        for name, data in expected.items():
            assert store.get(f"bodies/{name}").data == data, name
            assert store.head(f"bodies/{name}").size == len(data), name

    def test_missing_keys(self, store: ObjectStore) -> None:
        for read in (store.get, store.head, store.open):
            with pytest.raises(ObjectNotFound) as caught:
                read("no/such/key")
            line = caught.value.one_line()
            assert "no/such/key" in line and "\n" not in line and caught.value.hint
        assert caught.value.code == "object_not_found"
        store.delete("no/such/key")  # deleting what is not there is not an error
        with pytest.raises(PreconditionFailed):
            store.delete("no/such/key", if_match="0123456789abcdef")
        with pytest.raises(PreconditionFailed):
            store.put_if_match("no/such/key", b"x", "0123456789abcdef")
        with pytest.raises(ObjectNotFound):
            store.head("no/such/key")

    def test_delete(self, store: ObjectStore) -> None:
        store.put("gone/soon", b"x")
        store.put("gone/stays", b"y")
        store.delete("gone/soon")
        with pytest.raises(ObjectNotFound):
            store.head("gone/soon")
        assert [info.key for info in store.list("gone/")] == ["gone/stays"]

    # -- conditional writes -----------------------------------------------------------------

    def test_put_if_absent(self, store: ObjectStore) -> None:
        created = store.put_if_absent("lock/manifest", b"first")
        assert store.head("lock/manifest").etag == created.etag
        with pytest.raises(PreconditionFailed) as caught:
            store.put_if_absent("lock/manifest", b"second")
        assert caught.value.code == "precondition_failed"
        assert "\n" not in caught.value.one_line() and caught.value.hint
        assert store.get("lock/manifest").data == b"first"

    def test_put_if_match(self, store: ObjectStore) -> None:
        first = store.put("cas/manifest", b"v1")
        second = store.put_if_match("cas/manifest", b"v2", first.etag)
        assert store.get("cas/manifest").data == b"v2"
        # The version named is stale now: refused, and the object is left as it is.
        with pytest.raises(PreconditionFailed) as caught:
            store.put_if_match("cas/manifest", b"v3", first.etag)
        assert "\n" not in caught.value.one_line() and caught.value.hint
        assert store.get("cas/manifest").data == b"v2"
        # ETags are compared without quotes, whichever form the caller holds.
        third = store.put_if_match("cas/manifest", b"v3", f'"{second.etag}"')
        assert store.get("cas/manifest").info.etag == third.etag

    def test_delete_if_match(self, store: ObjectStore) -> None:
        first = store.put("cas/delete-me", b"v1")
        store.put("cas/delete-me", b"v2")
        with pytest.raises(PreconditionFailed):
            store.delete("cas/delete-me", if_match=first.etag)
        assert store.get("cas/delete-me").data == b"v2"
        store.delete("cas/delete-me", if_match=store.head("cas/delete-me").etag)
        with pytest.raises(ObjectNotFound):
            store.head("cas/delete-me")

    def test_a_failed_put_leaves_nothing(self, store: ObjectStore) -> None:
        for size in (2 * MiB, self.large_size // 2 + 3 * MiB):
            with pytest.raises(_Boom):
                store.put(f"failed/{size}", _failing_body(size))
            with pytest.raises(ObjectNotFound):
                store.head(f"failed/{size}")
        store.put("failed/kept", b"old")
        with pytest.raises(_Boom):
            store.put_if_match("failed/kept", _failing_body(MiB), store.head("failed/kept").etag)
        assert store.get("failed/kept").data == b"old"
        assert [info.key for info in store.list("failed/")] == ["failed/kept"]

    def test_large_conditional_writes(self, store: ObjectStore) -> None:
        size = self.large_size // 2 + 3 * MiB
        created = store.put_if_absent("big/manifest", pattern_chunks(size, seed=b"a"))
        with pytest.raises(PreconditionFailed):
            store.put_if_absent("big/manifest", pattern_chunks(size, seed=b"b"))
        if self.large_if_match:
            with pytest.raises(PreconditionFailed):
                store.put_if_match("big/manifest", pattern_chunks(size, seed=b"b"), "0" * 32)
        replaced = store.put_if_match("big/manifest", pattern_chunks(size, seed=b"c"), created.etag)
        assert store.head("big/manifest").etag == replaced.etag != created.etag
        with store.open("big/manifest") as reader:
            assert _digest(reader.chunks()) == _digest(pattern_chunks(size, seed=b"c"))

    # -- listing ----------------------------------------------------------------------------

    def test_list_many_keys_and_prefixes(self, store: ObjectStore) -> None:
        keys = [f"many/{i % 5}/{i:04d}.bin" for i in range(240)]
        keys += ["many-other/x", "manyx", "many.txt", "other/one", "top"]
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda key: store.put(key, key.encode()), keys))

        listed = list(store.list())
        assert [info.key for info in listed] == sorted(keys)
        assert all(info.size == len(info.key.encode()) for info in listed)
        assert all(info.etag and '"' not in info.etag for info in listed)
        assert listed[0] == store.head(listed[0].key)

        def under(prefix: str) -> list[str]:
            return [info.key for info in store.list(prefix)]

        assert under("many/") == sorted(k for k in keys if k.startswith("many/"))
        assert len(under("many/3/")) == 48
        assert under("many/1/00") == sorted(k for k in keys if k.startswith("many/1/00"))
        assert under("many") == sorted(k for k in keys if k.startswith("many"))
        assert under("to") == ["top"]
        assert under("top") == ["top"]
        assert under("nothing/") == [] and under("many/9") == [] and under("top/") == []

    def test_list_is_in_key_order(self, store: ObjectStore) -> None:
        keys = ["a/b", "a-c", "a0", "a/a/z", "b", "A", "a.d/e", "é", "z/😀", "z/~"]
        for key in keys:
            store.put(key, b"")
        assert [info.key for info in store.list()] == sorted(keys)
        assert [info.key for info in store.list("a")] == sorted(k for k in keys if k[0] == "a")

    def test_an_empty_store_lists_nothing(self, store: ObjectStore) -> None:
        assert list(store.list()) == []
        assert list(store.list("any/prefix/")) == []

    # -- keys -------------------------------------------------------------------------------

    def test_keys_with_spaces_and_unicode(self, store: ObjectStore) -> None:
        for key in ODD_KEYS:
            store.put(key, key.encode())
        assert [info.key for info in store.list()] == sorted(ODD_KEYS)
        for key in ODD_KEYS:
            assert store.get(key).data == key.encode()
            assert store.head(key).key == key
        assert [info.key for info in store.list("odd/")] == sorted(
            k for k in ODD_KEYS if k.startswith("odd/")
        )
        for key in ODD_KEYS:
            store.delete(key, if_match=store.head(key).etag)
        assert list(store.list()) == []

    @pytest.mark.parametrize("key", INVALID_KEYS, ids=repr)
    def test_invalid_keys_are_refused(self, store: ObjectStore, key: str) -> None:
        calls: list[Callable[[], object]] = [
            lambda: store.put(key, b"x"),
            lambda: store.put_if_absent(key, b"x"),
            lambda: store.put_if_match(key, b"x", "0" * 32),
            lambda: store.get(key),
            lambda: store.head(key),
            lambda: store.open(key),
            lambda: store.delete(key),
        ]
        for call in calls:
            with pytest.raises(InvalidObjectKey) as caught:
                call()
            assert caught.value.code == "invalid_object_key"
            assert "\n" not in caught.value.one_line() and "\x00" not in caught.value.one_line()
        assert list(store.list()) == []

    @pytest.mark.parametrize("prefix", ["/abs", "../up", "a/../b", "a//", "nul\x00", "a\\b"])
    def test_invalid_prefixes_are_refused(self, store: ObjectStore, prefix: str) -> None:
        with pytest.raises(InvalidObjectKey):
            list(store.list(prefix))

    # -- streaming --------------------------------------------------------------------------

    def test_a_large_object_streams_through(self, store: ObjectStore) -> None:
        peak = stream_large_object(store, self.large_size, measure=self.measure_memory)
        if peak is not None:
            # Neither side held the object: a few parts/chunks at most were alive at once.
            assert peak < self.large_size // 2, f"{peak} bytes at once for {self.large_size}"

    def test_an_open_object_is_a_binary_file(self, store: ObjectStore) -> None:
        data = b"".join(pattern_chunks(3 * MiB + 17))
        store.put("file/like", data)
        with store.open("file/like") as reader:
            first = reader.read(10)
            assert first == data[: len(first)] and 0 < len(first) <= 10
            buffer = bytearray(100)
            got = reader.readinto(buffer)
            assert got is not None and 0 < got <= 100
            offset = len(first) + got
            assert bytes(buffer[:got]) == data[len(first) : offset]
            rest = b"".join(reader.chunks(64 * 1024))
            assert first + bytes(buffer[:got]) + rest == data
            assert reader.read() == b"" and reader.read(5) == b""
        assert reader.closed
        reader.close()  # closing twice is fine
        with pytest.raises(ValueError):
            reader.read()
        with store.open("file/like") as raw:
            assert isinstance(raw, io.RawIOBase)  # so io's wrappers (and pyarrow) take it
            with io.BufferedReader(raw) as buffered:
                assert buffered.read(5) == data[:5]
                assert buffered.read() == data[5:]

    def test_reading_half_an_object_and_closing(self, store: ObjectStore) -> None:
        store.put("half/read", pattern_chunks(4 * MiB))
        for _ in range(3):
            reader = store.open("half/read")
            assert len(reader.read(1000)) > 0
            reader.close()
        assert store.head("half/read").size == 4 * MiB

    # -- many clients -----------------------------------------------------------------------

    def test_clients_see_each_other(self, open_store: Callable[[], ObjectStore]) -> None:
        first, second = open_store(), open_store()
        written = first.put("shared/key", b"from the first")
        assert second.get("shared/key").data == b"from the first"
        assert second.head("shared/key").etag == written.etag
        second.delete("shared/key", if_match=written.etag)
        with pytest.raises(ObjectNotFound):
            first.head("shared/key")

    def test_racing_put_if_absent_has_one_winner(
        self, open_store: Callable[[], ObjectStore]
    ) -> None:
        stores = [open_store() for _ in range(4)]
        for round_ in range(self.absent_rounds):
            key = f"race/absent-{round_}"

            def write(writer: int, store: ObjectStore, key: str = key) -> PutResult:
                return store.put_if_absent(key, f"writer {writer} of {key}".encode())

            winners = _race(self.absent_writers, stores, write)
            assert len(winners) == 1, f"round {round_}: {len(winners)} winners"
            writer, result = winners[0]
            got = stores[-1].get(key)
            assert got.data == f"writer {writer} of {key}".encode()
            assert got.info.etag == result.etag

    def test_racing_put_if_match_has_one_winner(
        self, open_store: Callable[[], ObjectStore]
    ) -> None:
        stores = [open_store() for _ in range(4)]
        key = "race/match"
        version = stores[0].put(key, b"version 0").etag
        for round_ in range(self.match_rounds):

            def write(
                writer: int, store: ObjectStore, etag: str = version, round_: int = round_
            ) -> PutResult:
                return store.put_if_match(key, f"round {round_} writer {writer}".encode(), etag)

            winners = _race(self.match_writers, stores, write)
            assert len(winners) == 1, f"round {round_}: {len(winners)} winners"
            writer, result = winners[0]
            got = stores[-1].get(key)
            assert got.data == f"round {round_} writer {writer}".encode()
            assert got.info.etag == result.etag
            version = result.etag


def _race(
    writers: int,
    stores: list[ObjectStore],
    write: Callable[[int, ObjectStore], PutResult],
) -> list[tuple[int, PutResult]]:
    """Run ``writers`` conditional writes at once (released together by a barrier, spread
    over ``stores``); return the winners. Every loser must have lost with
    ``PreconditionFailed``, nothing else."""
    barrier = threading.Barrier(writers)

    def attempt(writer: int) -> tuple[int, PutResult | StoreError]:
        barrier.wait(timeout=60)
        try:
            return writer, write(writer, stores[writer % len(stores)])
        except PreconditionFailed as exc:
            return writer, exc

    with ThreadPoolExecutor(writers) as pool:
        outcomes = list(pool.map(attempt, range(writers)))
    winners = [(w, r) for w, r in outcomes if isinstance(r, PutResult)]
    losers = [r for _, r in outcomes if not isinstance(r, PutResult)]
    assert len(winners) + len(losers) == writers
    return winners
