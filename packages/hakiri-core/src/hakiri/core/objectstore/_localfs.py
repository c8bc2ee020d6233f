"""Filesystem primitives of the local object store: temporary files written and synced, a
directory lock, and the content ETag kept in an extended attribute.

The ETag of a local object is the MD5 of its content (S3's for a single-part upload). It is
computed while the temporary file is written and stored in the file's ``user.hakiri.etag``
attribute, together with the size and mtime it was computed for, before the file is
renamed into place — so content and ETag appear together, and a file changed in place by
another tool (new mtime) or written without the attribute (another tool, a filesystem or
OS without user xattrs) gets its ETag recomputed from the content.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import os
import secrets
import threading
from collections import OrderedDict
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

from hakiri.core.objectstore._keys import TEMPORARY

__all__ = ["DirectoryLock", "Written", "content_etag", "fsync_directory", "write_temporary"]

_XATTR = "user.hakiri.etag"
_HAS_XATTR = hasattr(os, "setxattr")
_NO_XATTR = frozenset({errno.ENOTSUP, errno.EOPNOTSUPP, errno.ENODATA, errno.EPERM, errno.EACCES})


class Written:
    """A temporary file, fully written and synced, waiting to be linked or renamed."""

    __slots__ = ("etag", "path", "size")

    def __init__(self, path: Path, size: int, etag: str) -> None:
        self.path, self.size, self.etag = path, size, etag

    def discard(self) -> None:
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass


def write_temporary(directory: Path, chunks: Iterator[bytes], *, durable: bool) -> Written:
    """Write ``chunks`` to a new temporary file in ``directory`` (the final file's, so the
    rename is atomic); on any failure the file is removed and the error raised."""
    path = directory / f"{TEMPORARY}{secrets.token_hex(8)}"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)
    try:
        digest = hashlib.md5(usedforsecurity=False)
        size = 0
        for chunk in chunks:
            digest.update(chunk)
            size += _write_all(fd, chunk)
        etag = digest.hexdigest()
        _remember(fd, etag, os.fstat(fd))
        if durable:
            os.fsync(fd)
    except BaseException:
        os.close(fd)
        os.unlink(path)
        raise
    os.close(fd)
    return Written(path, size, etag)


def _write_all(fd: int, chunk: bytes) -> int:
    view = memoryview(chunk)
    while view:
        view = view[os.write(fd, view) :]
    return len(chunk)


def fsync_directory(directory: Path) -> None:
    """Make a rename, link or unlink in ``directory`` durable."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class DirectoryLock:
    """An exclusive ``flock`` on a directory, held while an object in it is checked and
    replaced. The kernel drops it when the holder dies, so it is never left stale; it
    excludes other threads too (each lock is its own open file)."""

    def __init__(self, directory: Path) -> None:
        self._directory = directory
        self._fd: int | None = None

    def __enter__(self) -> DirectoryLock:
        fd = os.open(self._directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the last descriptor releases the flock
            self._fd = None


# -- the content ETag ---------------------------------------------------------------------------

_cache_lock = threading.Lock()
_cache: OrderedDict[tuple[int, int, int, int], str] = OrderedDict()
"""ETags by file identity, for filesystems without user xattrs: it spares listings a read
of every file, but an inode reused with the same size and mtime would fool it, so
conditional writes never trust it."""
_CACHE_SIZE = 4096


def _identity(stat: os.stat_result) -> tuple[int, int, int, int]:
    return (stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns)


def _stamp(etag: str, stat: os.stat_result) -> bytes:
    return f"{etag} {stat.st_size} {stat.st_mtime_ns}".encode()


def _remember(fd: int, etag: str, stat: os.stat_result) -> None:
    if _HAS_XATTR:
        try:
            os.setxattr(fd, _XATTR, _stamp(etag, stat))
        except OSError as exc:
            if exc.errno not in _NO_XATTR:
                raise
    with _cache_lock:
        _cache[_identity(os.fstat(fd))] = etag
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)


def content_etag(fd: int, *, cached: bool = True) -> str:
    """The ETag of the open file ``fd``: its attribute when it still describes the content,
    else the MD5 of the content (read with ``pread``, the file position is not moved).
    ``cached=False`` (a conditional write's check) skips the identity cache."""
    stat = os.fstat(fd)
    if _HAS_XATTR:
        try:
            stamp = os.getxattr(fd, _XATTR)
        except OSError as exc:
            if exc.errno not in _NO_XATTR:
                raise
        else:
            etag, _, rest = stamp.decode("ascii", "replace").partition(" ")
            if rest == f"{stat.st_size} {stat.st_mtime_ns}":
                return etag
    if cached:
        with _cache_lock:
            known = _cache.get(_identity(stat))
        if known is not None:
            return known
    digest = hashlib.md5(usedforsecurity=False)
    offset = 0
    while chunk := os.pread(fd, 1 << 20, offset):
        digest.update(chunk)
        offset += len(chunk)
    etag = digest.hexdigest()
    try:
        _remember(fd, etag, stat)
    except OSError:
        pass  # a read-only store: the ETag is recomputed next time
    return etag
