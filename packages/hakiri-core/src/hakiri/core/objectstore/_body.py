"""Put bodies (bytes, a path, a binary file, an iterator of chunks) as a stream of chunks."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import BinaryIO, cast

from hakiri.core.ports import PutBody

__all__ = ["CHUNK", "BodyFailed", "chunks_of", "parts_of"]

CHUNK = 1 << 20
"""How much of a file is read (or an object streamed) at a time."""


class BodyFailed(Exception):
    """Reading a put's body raised ``original``: the caller's failure, not the store's, so a
    store re-raises ``original`` as it was instead of reporting a store error."""

    def __init__(self, original: BaseException) -> None:
        super().__init__(str(original))
        self.original = original


def chunks_of(body: PutBody, size: int = CHUNK) -> Iterator[bytes]:
    """``body`` as chunks of at most ``size`` bytes (an iterator's chunks pass as they are,
    empty ones dropped); a path is opened only when the first chunk is wanted. Whatever
    reading the body raises comes out as ``BodyFailed``."""
    try:
        yield from _chunks(body, size)
    except Exception as exc:
        raise BodyFailed(exc) from exc


def _chunks(body: PutBody, size: int) -> Iterator[bytes]:
    if isinstance(body, bytes | bytearray | memoryview):
        yield from _slices(bytes(body) if not isinstance(body, bytes) else body, size)
    elif isinstance(body, os.PathLike):
        with open(body, "rb") as file:
            yield from _read(file, size)
    elif hasattr(body, "read"):
        yield from _read(cast(BinaryIO, body), size)
    else:
        for chunk in body:
            if not isinstance(chunk, bytes | bytearray | memoryview):
                raise TypeError(f"a put body's chunks must be bytes, not {type(chunk).__name__}")
            if chunk:
                yield bytes(chunk)


def _slices(data: bytes, size: int) -> Iterator[bytes]:
    if len(data) <= size:
        if data:
            yield data
        return
    view = memoryview(data)
    for start in range(0, len(data), size):
        yield bytes(view[start : start + size])


def _read(file: BinaryIO, size: int) -> Iterator[bytes]:
    while chunk := file.read(size):
        yield chunk


def parts_of(chunks: Iterator[bytes], size: int) -> Iterator[bytes]:
    """``chunks`` regrouped into parts of exactly ``size`` bytes (the last one shorter,
    never empty unless the whole body is): what a multipart upload sends. Each part is
    copied once from its chunks, and nothing of it is kept once it is handed over."""
    pending: list[memoryview] = []
    have = 0
    for chunk in chunks:
        view = memoryview(chunk)
        while view:
            take = min(size - have, len(view))
            pending.append(view[:take])
            have += take
            view = view[take:]
            if have == size:
                part = b"".join(pending)
                pending.clear()
                have = 0
                yield part
                del part
    if pending:
        yield b"".join(pending)
