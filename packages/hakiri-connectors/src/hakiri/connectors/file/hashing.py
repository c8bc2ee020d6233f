"""Content hashes of local files, and when an unchanged ``stat`` may stand in for one.

A file's identity in the cursor is the SHA-256 of its bytes, computed streaming. Hashing
every file on every plan costs a read of the whole directory, so a file keeps its recorded
hash when its size, mtime, ctime and inode are what they were when it was hashed. That is
safe for the same reasons git's index is:

- ctime cannot be set by a program: every content change moves it, even when a tool puts
  an old mtime back (``cp -p``, ``rsync -t``, ``touch -d``); a file replaced by a rename gets
  a new inode;
- a write in the same timestamp granule as the hashing ("racily clean" in git's words) is
  caught by keeping a record only when mtime and ctime were at least ``SETTLE_NS`` older
  than the moment hashing began (covers 1 s and 2 s filesystem granularity); files without
  a record are hashed again on the next plan.

It is not safe where ctime is not a change time (Windows, where the stat is never trusted)
or where the filesystem's clock and this machine's disagree by more than ``SETTLE_NS``
(some network filesystems): set ``always_hash = true`` there.
"""

from __future__ import annotations

import hashlib
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["SETTLE_NS", "STAT_TRUSTED", "StatRecord", "hash_file"]

SETTLE_NS = 3_000_000_000
STAT_TRUSTED = os.name != "nt"
"""On Windows ``st_ctime`` is the creation time, which a rewrite does not move."""


@dataclass(frozen=True, slots=True)
class StatRecord:
    """A file's stat when it was hashed (size, mtime, ctime, inode), kept only when it may
    stand in for the hash later: the file had settled before the hashing began."""

    size: int
    mtime_ns: int
    ctime_ns: int
    inode: int

    @classmethod
    def of(cls, stat: os.stat_result) -> StatRecord:
        return cls(stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino)

    @classmethod
    def from_json(cls, value: Any) -> StatRecord | None:
        if (
            isinstance(value, list)
            and len(value) == 4
            and all(isinstance(v, int) and not isinstance(v, bool) for v in value)
        ):
            return cls(*value)
        return None

    def to_json(self) -> list[int]:
        return [self.size, self.mtime_ns, self.ctime_ns, self.inode]

    def matches(self, stat: os.stat_result) -> bool:
        """Whether ``stat`` is the stat this record was taken from."""
        return StatRecord.of(stat) == self


def _settled(stat: os.stat_result, started_ns: int) -> bool:
    """Whether the file had stopped changing well before its hashing began."""
    limit = started_ns - SETTLE_NS
    return stat.st_mtime_ns < limit and stat.st_ctime_ns < limit


def hash_file(path: Path) -> tuple[str, StatRecord | None]:
    """The SHA-256 (hex) of ``path``'s bytes, and the stat record that may stand in for it
    later (None when the file changed while it was being hashed, or too shortly before)."""
    started = time.time_ns()
    with open(path, "rb", buffering=0) as file:
        before = os.fstat(file.fileno())
        digest = hashlib.file_digest(file, "sha256").hexdigest()
        after = os.fstat(file.fileno())
    record = StatRecord.of(before)
    if record != StatRecord.of(after) or not _settled(before, started):
        return digest, None
    return digest, record
