"""An object store in a local directory: one file per object, keys as relative paths.

How each guarantee is kept (docs/object-store.md says more):

- **Atomic puts**: the body is written to a temporary file in the object's own directory,
  synced, then renamed (or linked) over the key — readers see the old file or the new one.
- **put_if_absent**: ``os.link`` of the temporary file to the key fails with EEXIST if
  anything is there; the kernel decides, so of many writers (threads or processes) exactly
  one wins. Filesystems without hard links fall back to the directory lock below.
- **put_if_match / delete(if_match=…)**: under an exclusive ``flock`` on the object's
  directory the current ETag is compared and the file replaced. Every put and delete takes
  that lock for its rename, so nothing can slip in between the check and the rename.
- **Durability**: the file is fsynced before the rename and the directory after it
  (``durable=False`` skips both, for scratch stores).
- **Keys stay inside the root**: keys are checked lexically (no ``..``, no absolute key),
  symbolic links are never followed out of the root, and symlinks are not objects.
"""

from __future__ import annotations

import errno
import os
import stat
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from hakiri.core.closing import Closing
from hakiri.core.errors import (
    InvalidObjectKey,
    ObjectNotFound,
    PreconditionFailed,
    StoreDenied,
    StoreError,
    store_os_error,
)
from hakiri.core.objectstore._body import BodyFailed, chunks_of
from hakiri.core.objectstore._keys import TEMPORARY, check_key, check_prefix, plain_etag
from hakiri.core.objectstore._localfs import (
    DirectoryLock,
    Written,
    content_etag,
    fsync_directory,
    write_temporary,
)
from hakiri.core.objectstore._reader import ObjectReaderBase
from hakiri.core.ports import ObjectData, ObjectInfo, PutBody, PutResult

__all__ = ["LocalObjectStore"]

_MISSING = frozenset({errno.ENOENT, errno.ENOTDIR, errno.ELOOP, errno.EISDIR})
_NO_HARD_LINKS = frozenset({errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK})
_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC


class LocalObjectStore(Closing):
    """Objects as files under ``root`` (created if missing)."""

    def __init__(self, root: str | os.PathLike[str], *, durable: bool = True) -> None:
        self.root = Path(root).absolute()
        self.durable = durable
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise store_os_error(_bare(exc), f"creating the store at {self.root}") from None
        self._real_root = os.path.realpath(self.root)

    @property
    def url(self) -> str:
        return self.root.as_uri()

    def close(self) -> None:
        """Nothing to release: every call opens and closes what it uses."""

    # -- writes -----------------------------------------------------------------------------

    def put(self, key: str, body: PutBody) -> PutResult:
        return self._put(key, body, condition=None)

    def put_if_absent(self, key: str, body: PutBody) -> PutResult:
        return self._put(key, body, condition="absent")

    def put_if_match(self, key: str, body: PutBody, etag: str) -> PutResult:
        return self._put(key, body, condition=plain_etag(etag))

    def _put(self, key: str, body: PutBody, *, condition: str | None) -> PutResult:
        path = self._path(key)
        directory = path.parent
        try:
            # Checked before any directory is made: a symlink must not get one made outside.
            self._check_inside(directory, key)
            self._make_directories(directory, key)
            written = write_temporary(directory, chunks_of(body), durable=self.durable)
            try:
                if condition == "absent":
                    self._link(written, path, key)
                else:
                    with DirectoryLock(directory):
                        if condition is not None:
                            self._check_version(path, key, condition)
                        self._replace(written, path, key)
                if self.durable:
                    fsync_directory(directory)
            finally:
                written.discard()
        except BodyFailed as exc:
            raise exc.original from None
        except OSError as exc:
            raise self._error(exc, f"writing {key!r} to {self.url}") from None
        return PutResult(key=key, size=written.size, etag=written.etag)

    def _link(self, written: Written, path: Path, key: str) -> None:
        try:
            os.link(written.path, path, follow_symlinks=False)
        except FileExistsError:
            self._refuse_directory(path, key)
            raise _exists(key, self.url) from None
        except OSError as exc:
            if exc.errno not in _NO_HARD_LINKS:
                raise
            # No hard links here (some FUSE and network filesystems): check and rename
            # under the directory lock that every writer of this directory takes.
            with DirectoryLock(path.parent):
                if os.path.lexists(path):
                    self._refuse_directory(path, key)
                    raise _exists(key, self.url) from None
                self._replace(written, path, key)

    def _replace(self, written: Written, path: Path, key: str) -> None:
        try:
            os.replace(written.path, path)
        except (IsADirectoryError, NotADirectoryError):
            raise _conflict(key) from None
        except OSError as exc:
            if exc.errno in (errno.ENOTEMPTY, errno.EEXIST):
                raise _conflict(key) from None
            raise

    def _check_version(self, path: Path, key: str, etag: str) -> None:
        """Under the directory lock: the object at ``path`` must still be version ``etag``."""
        try:
            fd = os.open(path, _READ_FLAGS)
        except OSError as exc:
            if exc.errno in _MISSING:
                raise _gone(key, self.url) from None
            raise
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise _gone(key, self.url)
            current = content_etag(fd, cached=False)
        finally:
            os.close(fd)
        if current != etag:
            raise PreconditionFailed(
                f"{key!r} in {self.url} is no longer version {etag} (now {current}): "
                "someone else wrote it first; nothing was written",
                hint="read the object again and retry with its new ETag",
                key=key,
            )

    def delete(self, key: str, *, if_match: str | None = None) -> None:
        path = self._path(key)
        directory = path.parent
        try:
            self._check_inside(directory, key)
            if not directory.is_dir():
                if if_match is not None:
                    raise _gone(key, self.url)
                return
            with DirectoryLock(directory):
                if if_match is not None:
                    self._check_version(path, key, plain_etag(if_match))
                try:
                    if not stat.S_ISDIR(os.lstat(path).st_mode):
                        os.unlink(path)
                except FileNotFoundError:
                    return
            if self.durable:
                fsync_directory(directory)
        except OSError as exc:
            raise self._error(exc, f"deleting {key!r} from {self.url}") from None

    # -- reads ------------------------------------------------------------------------------

    def head(self, key: str) -> ObjectInfo:
        fd, info = self._open(key)
        os.close(fd)
        return info

    def get(self, key: str) -> ObjectData:
        with self.open(key) as reader:
            return ObjectData(info=reader.info, data=reader.read())

    def open(self, key: str) -> _LocalReader:
        fd, info = self._open(key)
        return _LocalReader(fd, info)

    def _open(self, key: str) -> tuple[int, ObjectInfo]:
        path = self._path(key)
        try:
            self._check_inside(path.parent, key)
            fd = os.open(path, _READ_FLAGS)
        except OSError as exc:
            if exc.errno in _MISSING:
                raise _not_found(key, self.url) from None
            raise self._error(exc, f"reading {key!r} from {self.url}", reading=True) from None
        try:
            info = _info(key, fd)
        except BaseException as exc:
            os.close(fd)
            if isinstance(exc, OSError):
                raise self._error(exc, f"reading {key!r} from {self.url}", reading=True) from None
            raise
        if info is None:
            os.close(fd)
            raise _not_found(key, self.url)
        return fd, info

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        check_prefix(prefix)
        head, _, partial = prefix.rpartition("/")
        start = self.root.joinpath(*head.split("/")) if head else self.root
        try:
            if head:
                self._check_inside(start, prefix)
            yield from self._walk(start, f"{head}/" if head else "", partial)
        except OSError as exc:
            raise self._error(exc, f"listing {prefix!r} in {self.url}", reading=True) from None

    def _walk(self, directory: Path, key_prefix: str, partial: str) -> Iterator[ObjectInfo]:
        try:
            with os.scandir(directory) as scan:
                entries = [
                    entry
                    for entry in scan
                    if entry.name.startswith(partial) and not entry.name.startswith(TEMPORARY)
                ]
        except (FileNotFoundError, NotADirectoryError):
            return
        # Key order, as S3 lists: a directory's keys all start with 'name/'.
        ordered = sorted(
            (entry.name + "/" if entry.is_dir(follow_symlinks=False) else entry.name, entry)
            for entry in entries
            if not entry.is_symlink()
        )
        for sort_name, entry in ordered:
            key = key_prefix + entry.name
            if sort_name.endswith("/"):
                yield from self._walk(Path(entry.path), key + "/", "")
                continue
            found = self._listed(key, entry.path)
            if found is not None:
                yield found

    def _listed(self, key: str, path: str) -> ObjectInfo | None:
        try:
            check_key(key)
        except InvalidObjectKey:
            return None  # a file no key can name (a control character, say)
        try:
            fd = os.open(path, _READ_FLAGS)
        except OSError as exc:
            if exc.errno in _MISSING:
                return None  # deleted while listing
            raise
        try:
            return _info(key, fd)
        finally:
            os.close(fd)

    # -- crash leftovers --------------------------------------------------------------------

    def remove_temporaries(self, prefix: str = "", *, idle_for: float = 0.0) -> tuple[str, ...]:
        """Delete the temporary files that puts killed mid-write left under ``prefix`` (a
        directory: ``""`` or a ``/``-terminated key prefix) and that nothing has written to
        for ``idle_for`` seconds; return their root-relative paths, sorted.

        A live put writes its temporary continuously and renames it as soon as the body is
        in, so an idle one has no writer; with ``idle_for=0`` the caller promises that no
        put under ``prefix`` is in flight (it holds a lock every writer there takes).
        """
        if prefix and not prefix.endswith("/"):
            raise InvalidObjectKey(
                f"{prefix!r} does not name a directory of the store",
                hint="pass '' or a prefix ending in '/'",
                key=prefix,
            )
        check_prefix(prefix)
        start = self.root.joinpath(*prefix.rstrip("/").split("/")) if prefix else self.root
        removed: list[str] = []
        try:
            if prefix:
                self._check_inside(start, prefix)
            deadline = time.time() - idle_for
            # Symbolic links to directories are not walked; a directory that cannot be read
            # is an error, one that vanished is not.
            for directory, _, names in os.walk(start, onerror=_unless_missing):
                removed.extend(
                    os.path.relpath(os.path.join(directory, name), self.root)
                    for name in names
                    if name.startswith(TEMPORARY) and self._remove_idle(directory, name, deadline)
                )
        except OSError as exc:
            raise self._error(
                exc, f"removing temporary files under {prefix!r} in {self.url}"
            ) from None
        return tuple(sorted(path.replace(os.sep, "/") for path in removed))

    def _remove_idle(self, directory: str, name: str, deadline: float) -> bool:
        path = os.path.join(directory, name)
        try:
            status = os.lstat(path)
            if not stat.S_ISREG(status.st_mode) or status.st_mtime > deadline:
                return False
            os.unlink(path)
        except FileNotFoundError:
            return False  # its put finished (renamed it) or another sweep took it
        if self.durable:
            fsync_directory(Path(directory))
        return True

    # -- paths and errors -------------------------------------------------------------------

    def _path(self, key: str) -> Path:
        return self.root.joinpath(*check_key(key).split("/"))

    def _check_inside(self, directory: Path, key: str) -> None:
        """A symbolic link inside the store must not lead a key outside of it."""
        real = os.path.realpath(directory)
        if real != self._real_root and not real.startswith(self._real_root + os.sep):
            raise InvalidObjectKey(
                f"object key {key!r} leads out of the store at {self.url} through a symbolic link",
                hint="remove the symbolic link from the store directory",
                key=key,
            )

    def _make_directories(self, directory: Path, key: str) -> None:
        """Create ``directory`` and its missing parents (each made durable in its parent).
        Other writers may be creating the same ones at the same time."""
        missing: list[Path] = []
        parent = directory
        while parent != self.root and not parent.is_dir():
            missing.append(parent)
            parent = parent.parent
        for path in reversed(missing):
            try:
                path.mkdir()
            except FileExistsError:
                if path.is_dir():
                    continue
                raise _conflict(key) from None
            except NotADirectoryError:
                raise _conflict(key) from None
            if self.durable:
                fsync_directory(path.parent)

    @staticmethod
    def _refuse_directory(path: Path, key: str) -> None:
        if path.is_dir():
            raise _conflict(key)

    @staticmethod
    def _error(exc: OSError, doing: str, *, reading: bool = False) -> StoreError:
        """One line for a filesystem error: a read refused is ``StoreDenied``; a write refused
        ``StoreUnwritable``, a full disk ``StoreFull`` (``store_os_error``)."""
        if reading and exc.errno in (errno.EACCES, errno.EPERM):
            return StoreDenied(
                f"permission denied while {doing}",
                hint="make the store directory readable for this user",
            )
        return store_os_error(_bare(exc), doing)


class _LocalReader(ObjectReaderBase):
    def __init__(self, fd: int, info: ObjectInfo) -> None:
        super().__init__(info)
        self._fd = fd

    def fileno(self) -> int:
        return self._fd

    def _read_some(self, size: int) -> bytes:
        return os.read(self._fd, size)

    def _release(self) -> None:
        os.close(self._fd)


def _info(key: str, fd: int) -> ObjectInfo | None:
    status = os.fstat(fd)
    if not stat.S_ISREG(status.st_mode):
        return None
    return ObjectInfo(
        key=key,
        size=status.st_size,
        etag=content_etag(fd),
        last_modified=datetime.fromtimestamp(status.st_mtime_ns / 1e9, UTC),
    )


def _unless_missing(exc: OSError) -> None:
    if not isinstance(exc, FileNotFoundError | NotADirectoryError):
        raise exc


def _bare(exc: OSError) -> OSError:
    """``exc`` without its file name: messages name the key, not a temporary file."""
    return OSError(exc.errno, exc.strerror)


def _not_found(key: str, url: str) -> ObjectNotFound:
    return ObjectNotFound(
        f"no object {key!r} in {url}", hint="check the key (list the store)", key=key
    )


def _exists(key: str, url: str) -> PreconditionFailed:
    return PreconditionFailed(
        f"{key!r} already exists in {url}: someone else created it first; nothing was written",
        hint="read the existing object, or write with put_if_match / put",
        key=key,
    )


def _gone(key: str, url: str) -> PreconditionFailed:
    return PreconditionFailed(
        f"{key!r} no longer exists in {url}: the version named is gone; nothing was changed",
        hint="read the store again and decide (put_if_absent creates it anew)",
        key=key,
    )


def _conflict(key: str) -> InvalidObjectKey:
    return InvalidObjectKey(
        f"object key {key!r} clashes with another key in a local store: one key cannot be "
        "both an object and the start of another ('a' and 'a/b')",
        hint="choose keys so that no object's key is a directory of another",
        key=key,
    )
