"""Frames between a query process and its parent: a JSON header and an optional payload.

A frame is two big-endian ``uint32`` lengths (header, payload), the header as UTF-8 JSON,
then the payload bytes (an Arrow IPC stream for an answer). Errors cross as their code,
message and hint and become the same ``HakiriError`` class on the other side.
"""

from __future__ import annotations

import json
import struct
from typing import Any, BinaryIO

from hakiri.core.errors import HakiriError, QueryError

__all__ = ["FRAME_HEAD", "decode_error", "encode_error", "pack", "read_frame", "write_frame"]

FRAME_HEAD = struct.Struct(">II")


def _known_errors() -> dict[str, type[HakiriError]]:
    """Every ``HakiriError`` class by code; the most general class keeps a shared code."""
    # Imported so that their classes are registered subclasses.
    import hakiri.context.errors  # noqa: F401

    found: dict[str, type[HakiriError]] = {}
    pending: list[type[HakiriError]] = [HakiriError]
    while pending:
        cls = pending.pop(0)
        found.setdefault(cls.code, cls)
        pending.extend(cls.__subclasses__())
    return found


def pack(header: dict[str, Any], payload: bytes = b"") -> bytes:
    head = json.dumps(header, separators=(",", ":")).encode()
    return FRAME_HEAD.pack(len(head), len(payload)) + head + payload


def write_frame(out: BinaryIO, header: dict[str, Any], payload: bytes = b"") -> None:
    out.write(pack(header, payload))
    out.flush()


def read_frame(source: BinaryIO) -> tuple[dict[str, Any], bytes] | None:
    """The next frame, or None at the end of the stream (the other side is gone)."""
    head = source.read(FRAME_HEAD.size)
    if len(head) < FRAME_HEAD.size:
        return None
    header_size, payload_size = FRAME_HEAD.unpack(head)
    header = json.loads(source.read(header_size))
    payload = source.read(payload_size) if payload_size else b""
    return header, payload


def encode_error(err: HakiriError) -> dict[str, Any]:
    return {"code": err.code, "message": err.message, "hint": err.hint}


def decode_error(data: dict[str, Any]) -> HakiriError:
    cls = _known_errors().get(str(data.get("code")), QueryError)
    return cls(str(data.get("message", "the query failed")), hint=data.get("hint"))
