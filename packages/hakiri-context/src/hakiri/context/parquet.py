"""The Parquet writer: deterministic bytes, published whole through an object store.

The same Arrow table always gives the same file (for a given pyarrow version, which the
file names in its ``created_by``): every writer option is fixed here, table-level schema
metadata (pandas' included) is dropped, and nothing time-dependent is written. Two
deployments fed the same data can therefore be compared file by file.
"""

from __future__ import annotations

import hashlib
import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from types import MappingProxyType
from typing import IO, TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    import pyarrow as pa

    from hakiri.core.ports import ObjectStore

__all__ = ["WRITER_OPTIONS", "ParquetFileInfo", "write_parquet"]

WRITER_OPTIONS: MappingProxyType[str, Any] = MappingProxyType(
    {
        "version": "2.6",
        "compression": "zstd",
        # Level 1 writes twice as fast as 3 for a few percent of size: ingest is the
        # hot path, and compaction can recompress cold files harder.
        "compression_level": 1,
        # DuckDB's own row-group size: a reader parallelises over row groups.
        "row_group_size": 122_880,
        "data_page_size": 1 << 20,
        "dictionary_pagesize_limit": 1 << 20,
        "write_batch_size": 1024,
        "data_page_version": "1.0",
        "use_dictionary": True,
        "write_statistics": True,
        "write_page_index": False,
        # The catalog keeps a sha256 of every file; per-page CRCs would cost ~15% of the
        # write for no extra protection.
        "write_page_checksum": False,
        "use_compliant_nested_type": True,
        # The exact Arrow schema travels in the file, so a read gives back the types written.
        "store_schema": True,
    }
)
"""Every option ``write_parquet`` passes to ``pyarrow.parquet.write_table``."""

_PART = 1 << 20
"""The encoder's writes (page headers of a few bytes, pages, column chunks) are handed to
the put gathered into parts of about this size: one hand-over between threads per part."""
_DEPTH = 8
"""Parts waiting for the put: what bounds the memory a file takes while it is written."""
_POLL = 0.05
"""Seconds between checks, while the put is behind, that it is still alive."""


@dataclass(frozen=True, slots=True)
class ParquetFileInfo:
    """What was written: row count, size in bytes, and ``sha256:<hex>`` of the bytes."""

    rows: int
    bytes: int
    checksum: str


def write_parquet(table: pa.Table, objects: ObjectStore, key: str) -> ParquetFileInfo:
    """Write ``table`` as the object ``key`` of ``objects``: readers see no object or the
    whole file (the store's put is atomic), never part of one.

    A file that stays under one part (``_PART``) is put once encoded. A larger one streams:
    at its first full part a put starts in a second thread and takes the parts as pyarrow
    (which releases the GIL while it encodes) writes them, so the store hashes and writes
    them meanwhile, in bounded memory. Whatever fails — the encoding or the store — nothing
    is stored and that error is raised: the store's when it stopped the encoding.
    """
    import pyarrow.parquet as pq

    upload = _Upload(objects, key)
    try:
        # Any object with ``write`` is a file to pyarrow.
        sink = cast("IO[bytes]", upload)
        pq.write_table(table.replace_schema_metadata(None), sink, **WRITER_OPTIONS)
    except BaseException:
        cause = upload.abandon()
        if cause is not None:
            raise cause from None
        raise
    upload.finish()
    return ParquetFileInfo(rows=table.num_rows, bytes=upload.size, checksum=upload.checksum)


class _Abandoned(Exception):
    """The encoding failed: the put must store nothing."""


class _PutEnded(Exception):
    """The put stopped before the file was complete (its error says why)."""


_END = b""
_FAILED = None


class _Upload:
    """The file pyarrow writes to, put into ``objects`` as ``key`` (see ``write_parquet``)."""

    closed = False

    def __init__(self, objects: ObjectStore, key: str) -> None:
        self._objects, self._key = objects, key
        self._gathered: list[bytes] = []
        self._gathered_size = 0
        self._digest = hashlib.sha256()
        self.size = 0
        self._parts: queue.Queue[bytes | None] = queue.Queue(maxsize=_DEPTH)
        self._worker: threading.Thread | None = None
        self._ended = threading.Event()
        self._failure: BaseException | None = None

    @property
    def checksum(self) -> str:
        return f"sha256:{self._digest.hexdigest()}"

    # -- pyarrow's side: a writable file ------------------------------------------------

    def write(self, data: bytes | memoryview) -> int:
        chunk = bytes(data)  # pyarrow passes bytes: no copy
        self._gathered.append(chunk)
        self._gathered_size += len(chunk)
        if self._gathered_size >= _PART:
            if self._worker is None:
                self._worker = threading.Thread(target=self._put, name="hakiri-put", daemon=True)
                self._worker.start()
            self._send(self._take_gathered())
        return len(chunk)

    def flush(self) -> None:
        """Parts go to the put when they are full, the last one at ``finish``."""

    def close(self) -> None:
        self.closed = True

    # -- the outcome --------------------------------------------------------------------

    def finish(self) -> None:
        """The file is complete: store it (or raise why the store could not)."""
        if self._worker is None:
            self._objects.put(self._key, self._hashed(self._take_gathered()))
            return
        try:
            if self._gathered:
                self._send(self._take_gathered())
            self._send(_END)
        except _PutEnded:
            pass  # the put failed: its error is raised below
        self._worker.join()
        if self._failure is not None:
            raise self._failure

    def abandon(self) -> BaseException | None:
        """The encoding failed: make sure nothing is stored. Returns the store's error when
        that is what stopped the encoding."""
        if self._worker is None:
            return None
        try:
            self._send(_FAILED)
        except _PutEnded:
            pass  # the put has ended already: nothing to tell it
        self._worker.join()
        return None if isinstance(self._failure, _Abandoned) else self._failure

    # -- between the threads ------------------------------------------------------------

    def _take_gathered(self) -> bytes:
        gathered, self._gathered, self._gathered_size = self._gathered, [], 0
        return gathered[0] if len(gathered) == 1 else b"".join(gathered)

    def _hashed(self, part: bytes) -> bytes:
        self._digest.update(part)
        self.size += len(part)
        return part

    def _send(self, part: bytes | None) -> None:
        while not self._ended.is_set():
            try:
                self._parts.put(part, timeout=_POLL)
            except queue.Full:
                continue
            return
        raise _PutEnded("the store stopped reading the file")

    def _put(self) -> None:
        try:
            self._objects.put(self._key, self._body())
        except BaseException as exc:  # noqa: BLE001 - handed to the encoding thread
            self._failure = exc
        finally:
            self._ended.set()

    def _body(self) -> Iterator[bytes]:
        while (part := self._parts.get()) is not _FAILED:
            if part == _END:
                return
            yield self._hashed(part)
        raise _Abandoned("the Parquet encoding failed")
