"""LocalObjectStore.remove_temporaries: what puts killed mid-write leave, swept on demand."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from hakiri.core.errors import InvalidObjectKey, StoreUnwritable
from hakiri.core.objectstore import LocalObjectStore


@pytest.fixture
def store(tmp_path: Path) -> LocalObjectStore:
    return LocalObjectStore(tmp_path / "objects")


def _leftover(store: LocalObjectStore, directory: str, name: str, *, age: float = 0.0) -> Path:
    path = store.root / directory / f".hakiri-tmp-{name}"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"half a file")
    if age:
        then = time.time() - age
        os.utime(path, (then, then))
    return path


def test_only_temporaries_under_the_prefix_are_removed(store: LocalObjectStore) -> None:
    store.put("context/issues/r1-000000.parquet", b"kept")
    _leftover(store, "context/issues", "aaaa")
    _leftover(store, "context/issues/deeper", "bbbb")
    other = _leftover(store, "context/users", "cccc")

    removed = store.remove_temporaries("context/issues/")

    assert removed == (
        "context/issues/.hakiri-tmp-aaaa",
        "context/issues/deeper/.hakiri-tmp-bbbb",
    )
    assert sorted(os.listdir(store.root / "context" / "issues")) == ["deeper", "r1-000000.parquet"]
    assert other.exists()
    assert [info.key for info in store.list()] == ["context/issues/r1-000000.parquet"]
    assert store.remove_temporaries("context/issues/") == ()
    assert store.remove_temporaries("context/missing/") == ()
    assert store.remove_temporaries() == ("context/users/.hakiri-tmp-cccc",)


def test_a_recently_written_temporary_is_spared(store: LocalObjectStore) -> None:
    fresh = _leftover(store, "t", "fresh")
    old = _leftover(store, "t", "old", age=3600)
    assert store.remove_temporaries("t/", idle_for=600) == ("t/.hakiri-tmp-old",)
    assert fresh.exists() and not old.exists()


def test_the_prefix_must_name_a_directory(store: LocalObjectStore) -> None:
    with pytest.raises(InvalidObjectKey, match="directory"):
        store.remove_temporaries("context/iss")
    with pytest.raises(InvalidObjectKey):
        store.remove_temporaries("../")


def test_a_symbolic_link_out_of_the_store_is_not_swept(
    store: LocalObjectStore, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / ".hakiri-tmp-theirs").write_bytes(b"not ours")
    (store.root / "link").symlink_to(outside, target_is_directory=True)
    with pytest.raises(InvalidObjectKey, match="symbolic link"):
        store.remove_temporaries("link/")
    assert store.remove_temporaries() == ()  # a link is never walked through
    assert (outside / ".hakiri-tmp-theirs").exists()


def test_an_unwritable_directory_is_one_line(
    store: LocalObjectStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    _leftover(store, "t", "stuck")

    def refused(path: object) -> None:
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(os, "unlink", refused)  # what a read-only directory answers
    with pytest.raises(StoreUnwritable, match="removing temporary files under 't/'") as caught:
        store.remove_temporaries("t/")
    assert ".hakiri-tmp-" not in str(caught.value)  # the message names the prefix, not a file
