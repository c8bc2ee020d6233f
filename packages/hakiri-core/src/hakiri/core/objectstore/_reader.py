"""The shape of an opened object: a raw binary file that also knows its version."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import TYPE_CHECKING

from hakiri.core.objectstore._body import CHUNK
from hakiri.core.ports import ObjectInfo

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

__all__ = ["ObjectReaderBase"]


class ObjectReaderBase(io.RawIOBase):
    """An ``ObjectReader``: subclasses implement ``_read_some`` (at most ``size`` bytes,
    b"" at the end) and ``_release``; the rest (``read``, ``readinto``, ``chunks``, ``with``)
    is here. Wrap it in ``io.BufferedReader`` where a reader wants small reads."""

    def __init__(self, info: ObjectInfo) -> None:
        super().__init__()
        self._info = info

    @property
    def info(self) -> ObjectInfo:
        return self._info

    def readable(self) -> bool:
        return True

    def _read_some(self, size: int) -> bytes:
        raise NotImplementedError

    def _release(self) -> None:
        raise NotImplementedError

    def readinto(self, buffer: WriteableBuffer, /) -> int:
        with memoryview(buffer) as view, view.cast("B") as target:
            data = self._read_some(len(target))
            target[: len(data)] = data
        return len(data)

    def read(self, size: int = -1, /) -> bytes:
        if self.closed:
            raise ValueError("read of a closed object reader")
        if size is not None and size >= 0:
            return self._read_some(size) if size else b""
        return b"".join(self.chunks())

    def readall(self) -> bytes:
        return self.read()

    def chunks(self, size: int = CHUNK) -> Iterator[bytes]:
        """The rest of the object, at most ``size`` bytes at a time."""
        while chunk := self._read_some(size):
            yield chunk

    def close(self) -> None:
        if not self.closed:
            try:
                self._release()
            finally:
                super().close()
