"""Object keys: what every store accepts, checked before the store is touched.

A key is a relative, '/'-separated path of plain segments, the same on every store, so a
key that works on the local filesystem works on S3 and cannot escape a local store's root.
"""

from __future__ import annotations

import re

from hakiri.core.errors import InvalidObjectKey
from hakiri.core.terminal import printable

__all__ = ["MAX_KEY_BYTES", "TEMPORARY", "check_key", "check_prefix", "plain_etag"]

MAX_KEY_BYTES = 1024
"""S3's limit on a key, in UTF-8 bytes."""
_MAX_SEGMENT_BYTES = 255
"""The usual filesystem limit on one file name."""
TEMPORARY = ".hakiri-tmp-"
"""The start of the names a local store gives files it is still writing (never listed)."""

_CONTROL = re.compile("[\x00-\x1f\x7f]")
_HINT = (
    "use a relative '/'-separated key of plain segments, e.g. 'context/orders/0001.parquet' "
    "(no leading '/', no '.' or '..', no empty segments, no backslashes or control "
    "characters)"
)


def _refuse(key: str, why: str) -> InvalidObjectKey:
    return InvalidObjectKey(f"object key {printable(repr(key))} {why}", hint=_HINT, key=key)


def _check_text(key: object) -> str:
    if not isinstance(key, str):
        raise InvalidObjectKey(f"an object key must be a string, not {type(key).__name__}")
    if _CONTROL.search(key):
        raise _refuse(key, "holds a control character")
    if "\\" in key:
        raise _refuse(key, "holds a backslash")
    try:
        size = len(key.encode("utf-8"))
    except UnicodeEncodeError:
        raise _refuse(key, "is not valid Unicode text") from None
    if size > MAX_KEY_BYTES:
        raise _refuse(key, f"is longer than {MAX_KEY_BYTES} bytes")
    if key.startswith("/"):
        raise _refuse(key, "is absolute")
    return key


def _check_segment(key: str, segment: str) -> None:
    if segment == "":
        raise _refuse(key, "has an empty segment")
    if segment in (".", ".."):
        raise _refuse(key, f"has a {segment!r} segment")
    if len(segment.encode("utf-8")) > _MAX_SEGMENT_BYTES:
        raise _refuse(key, f"has a segment longer than {_MAX_SEGMENT_BYTES} bytes")
    if segment.startswith(TEMPORARY):
        raise _refuse(key, f"has a segment starting with {TEMPORARY!r} (reserved)")


def check_key(key: str) -> str:
    """``key`` if every store accepts it, else ``InvalidObjectKey``."""
    if _check_text(key) == "":
        raise _refuse(key, "is empty")
    for segment in key.split("/"):
        _check_segment(key, segment)
    return key


def check_prefix(prefix: str) -> str:
    """``prefix`` if it can start a valid key ("" and a trailing '/' included)."""
    _check_text(prefix)
    if prefix == "":
        return prefix
    segments = prefix.split("/")
    # The last segment may be partial ('logs/2026-0') or empty ('logs/'); a partial '.' or
    # '..' is refused only when whole, as a key would be.
    for segment in segments[:-1]:
        _check_segment(prefix, segment)
    if segments[-1] in (".", ".."):
        _check_segment(prefix, segments[-1])
    return prefix


def plain_etag(etag: str) -> str:
    """An ETag without its quotes (and without a weak validator's ``W/``)."""
    etag = etag.strip()
    if etag.startswith("W/"):
        etag = etag[2:]
    return etag.strip('"')
