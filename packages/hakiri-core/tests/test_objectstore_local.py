"""The local-filesystem object store: the conformance suite, plus what only a directory has
(symbolic links, files written by other tools, leftovers of a crash, real disk faults)."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from hakiri.core.errors import (
    InvalidObjectKey,
    ObjectNotFound,
    PreconditionFailed,
    StoreDenied,
    StoreFull,
    StoreUnwritable,
)
from hakiri.core.objectstore import LocalObjectStore
from hakiri.core.objectstore.testing import ObjectStoreConformance, pattern_chunks
from hakiri.core.ports import ObjectStore


class TestLocalObjectStore(ObjectStoreConformance):
    @pytest.fixture
    def open_store(self, tmp_path: Path) -> Callable[[], ObjectStore]:
        return lambda: LocalObjectStore(tmp_path / "objects")


@pytest.fixture
def store(tmp_path: Path) -> LocalObjectStore:
    return LocalObjectStore(tmp_path / "objects")


def test_objects_are_plain_files_under_the_root(store: LocalObjectStore) -> None:
    store.put("context/orders/0001.parquet", b"PAR1")
    assert (store.root / "context" / "orders" / "0001.parquet").read_bytes() == b"PAR1"
    assert store.url == store.root.as_uri()
    assert store.head("context/orders/0001.parquet").etag == hashlib.md5(b"PAR1").hexdigest()


def test_a_symbolic_link_cannot_lead_a_key_out_of_the_root(
    store: LocalObjectStore, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_bytes(b"not yours")
    (store.root / "link").symlink_to(outside, target_is_directory=True)
    (store.root / "file-link").symlink_to(outside / "secret")

    with pytest.raises(InvalidObjectKey, match="symbolic link"):
        store.get("link/secret")
    with pytest.raises(InvalidObjectKey, match="symbolic link"):
        store.put("link/planted", b"x")
    with pytest.raises(InvalidObjectKey, match="symbolic link"):
        store.put_if_absent("link/new/directory/planted", b"x")
    with pytest.raises(InvalidObjectKey, match="symbolic link"):
        list(store.list("link/"))
    with pytest.raises(InvalidObjectKey, match="symbolic link"):
        store.delete("link/secret")
    with pytest.raises(ObjectNotFound):
        store.get("file-link")  # a symlink is not an object
    assert list(store.list()) == []
    assert sorted(os.listdir(outside)) == ["secret"]
    assert (outside / "secret").read_bytes() == b"not yours"


def test_temporary_files_of_a_crashed_put_are_not_objects(store: LocalObjectStore) -> None:
    store.put("dir/real", b"x")
    (store.root / "dir" / ".hakiri-tmp-deadbeefdeadbeef").write_bytes(b"half a file")
    assert [info.key for info in store.list()] == ["dir/real"]
    assert [info.key for info in store.list("dir/.hak")] == []
    with pytest.raises(InvalidObjectKey, match="reserved"):
        store.get("dir/.hakiri-tmp-deadbeefdeadbeef")


def test_no_temporary_file_is_left_behind(store: LocalObjectStore) -> None:
    store.put("a/b", b"1")
    store.put_if_absent("a/c", b"2")
    with pytest.raises(PreconditionFailed):
        store.put_if_absent("a/c", b"3")
    store.put_if_match("a/b", b"4", store.head("a/b").etag)
    with pytest.raises(PreconditionFailed):
        store.put_if_match("a/b", b"5", "stale")
    assert sorted(os.listdir(store.root / "a")) == ["b", "c"]


def test_files_written_by_other_tools_have_a_content_etag(store: LocalObjectStore) -> None:
    (store.root / "foreign").mkdir()
    (store.root / "foreign" / "file").write_bytes(b"written by cp")
    etag = store.head("foreign/file").etag
    assert etag == hashlib.md5(b"written by cp").hexdigest()
    store.put_if_match("foreign/file", b"now ours", etag)
    assert store.get("foreign/file").data == b"now ours"


def test_a_file_changed_in_place_gets_a_new_etag(store: LocalObjectStore) -> None:
    written = store.put("edited", b"original content")
    path = store.root / "edited"
    stat = path.stat()
    with open(path, "r+b") as file:  # same size, new bytes, as an editor might
        file.write(b"ORIGINAL")
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    assert store.head("edited").etag == hashlib.md5(b"ORIGINAL content").hexdigest()
    with pytest.raises(PreconditionFailed):
        store.put_if_match("edited", b"mine", written.etag)


def test_one_key_cannot_be_an_object_and_a_directory(store: LocalObjectStore) -> None:
    store.put("a", b"object")
    with pytest.raises(InvalidObjectKey, match="clashes"):
        store.put("a/b", b"x")
    store.put("dir/child", b"x")
    with pytest.raises(InvalidObjectKey, match="clashes"):
        store.put("dir", b"x")
    with pytest.raises(InvalidObjectKey, match="clashes"):
        store.put_if_absent("dir", b"x")
    with pytest.raises(ObjectNotFound):
        store.get("dir")


def test_durable_off_still_writes_atomically(tmp_path: Path) -> None:
    store = LocalObjectStore(tmp_path / "scratch", durable=False)
    store.put("x/y", pattern_chunks(3 << 20))
    assert store.head("x/y").size == 3 << 20


# -- real processes -----------------------------------------------------------------------------

_WRITER = """
import os, sys, time
from hakiri.core.errors import PreconditionFailed
from hakiri.core.objectstore import LocalObjectStore

root, key, writer, go = sys.argv[1:]
store = LocalObjectStore(root)
print("ready", flush=True)
while not os.path.exists(go):
    time.sleep(0.001)
try:
    store.put_if_absent(key, f"process {writer}".encode())
    print("won", flush=True)
except PreconditionFailed:
    print("lost", flush=True)
"""


def test_racing_processes_have_one_winner(tmp_path: Path) -> None:
    root = tmp_path / "objects"
    writers = 12
    for round_ in range(2):
        key, go = f"race/process-{round_}", tmp_path / f"go-{round_}"
        processes = [
            subprocess.Popen(
                [sys.executable, "-c", _WRITER, str(root), key, str(n), str(go)],
                stdout=subprocess.PIPE,
                text=True,
            )
            for n in range(writers)
        ]
        try:
            for process in processes:
                assert process.stdout is not None and process.stdout.readline() == "ready\n"
            go.touch()  # every writer is waiting: release them together
            outcomes = [process.communicate(timeout=60)[0].strip() for process in processes]
        finally:
            for process in processes:
                process.kill()
                process.wait()
        assert sorted(outcomes) == ["lost"] * (writers - 1) + ["won"]
        winner = outcomes.index("won")
        assert LocalObjectStore(root).get(key).data == f"process {winner}".encode()


# -- real disk faults (root only: a tmpfs mount, an immutable directory) -------------------------


def _run(*command: str) -> bool:
    return subprocess.run(command, capture_output=True, check=False).returncode == 0


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A 1 MiB tmpfs, mounted for the test (skipped where mounting is not allowed)."""
    mount = tmp_path / "tiny"
    mount.mkdir()
    if (
        os.geteuid() != 0
        or not shutil.which("mount")
        or not _run("mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount))
    ):
        pytest.skip("mounting a tmpfs needs root")
    try:
        yield mount
    finally:
        _run("umount", "-l", str(mount))


def test_a_full_disk_is_one_line_and_leaves_nothing(tiny_disk: Path) -> None:
    store = LocalObjectStore(tiny_disk / "objects")
    store.put("kept", b"small")
    with pytest.raises(StoreFull) as caught:
        store.put("big/file", pattern_chunks(4 << 20))
    line = caught.value.one_line()
    assert caught.value.code == "store_full" and "\n" not in line and "big/file" in line
    assert ".hakiri-tmp-" not in line
    assert [info.key for info in store.list()] == ["kept"]
    assert os.listdir(tiny_disk / "objects" / "big") == []
    store.put("after", b"there is room for small things again")


@pytest.fixture
def immutable(tmp_path: Path) -> Iterator[Callable[[Path], None]]:
    """Make a directory immutable (``chattr +i``) for the test; undone afterwards."""
    marked: list[Path] = []

    def mark(path: Path) -> None:
        if os.geteuid() != 0 or not shutil.which("chattr") or not _run("chattr", "+i", str(path)):
            pytest.skip("chattr +i needs root on a filesystem that supports it")
        marked.append(path)

    yield mark
    for path in marked:
        _run("chattr", "-i", str(path))


def test_an_unwritable_store_is_one_line(
    store: LocalObjectStore, immutable: Callable[[Path], None]
) -> None:
    store.put("table/one", b"1")
    immutable(store.root / "table")
    for write in (
        lambda: store.put("table/two", b"2"),
        lambda: store.put_if_absent("table/two", b"2"),
        lambda: store.put_if_match("table/one", b"2", store.head("table/one").etag),
        lambda: store.delete("table/one"),
    ):
        with pytest.raises(StoreUnwritable) as caught:
            write()
        assert caught.value.code == "store_unwritable" and "\n" not in caught.value.one_line()
    assert store.get("table/one").data == b"1"
    assert [info.key for info in store.list()] == ["table/one"]


def test_an_unreadable_store_is_store_denied(store: LocalObjectStore) -> None:
    store.put("private/one", b"1")
    (store.root / "private").chmod(0)
    try:
        if os.access(store.root / "private", os.R_OK):
            pytest.skip("this user reads everything (root)")
        with pytest.raises(StoreDenied):
            list(store.list("private/"))
    finally:
        (store.root / "private").chmod(0o755)
