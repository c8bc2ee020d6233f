"""One writer per pipeline at a time (a run, a compaction), and a reliable sign that an
earlier run died.

The lock is an ``flock`` on ``<store>/locks/<pipeline>.lock``. The kernel releases it when the
holding process exits for any reason, SIGKILL included — so a run that finds the lock free
knows every run still marked ``running`` in the catalog belongs to a dead process.

The file also carries a run's *last words*: a run that fails and cannot record why in the
catalog (its disk is full, its store became read-only) writes the reason into the lock
file's own, already allocated, bytes; the next operation on the pipeline reads them
(``last_words``) and records the real cause instead of "the process stopped". The pid sits
in the first 64 bytes, the note in the rest of one 4 KiB record, so writing either never
needs a new block on a full disk.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from pathlib import Path
from types import TracebackType
from typing import Any

from hakiri.core.errors import PipelineBusy, store_os_error

__all__ = ["PipelineLock"]

_PID_BYTES = 64
_RECORD = 4096


class PipelineLock:
    def __init__(self, store_root: Path, pipeline: str) -> None:
        self.path = store_root / "locks" / f"{pipeline}.lock"
        self.pipeline = pipeline
        self._fd: int | None = None
        self.last_words: dict[str, Any] | None = None
        """The note a failed holder left (``run_id``, ``code``, ``message``), if any."""

    def acquire(self) -> PipelineLock:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise store_os_error(exc, f"taking the lock of pipeline {self.pipeline!r}") from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "another process"
            os.close(fd)
            raise PipelineBusy(
                f"pipeline {self.pipeline!r} is already running (pid {holder})",
                hint="wait for that run to finish, or stop it",
            ) from None
        self.last_words = _note(os.pread(fd, _RECORD - _PID_BYTES, _PID_BYTES))
        try:
            # Overwrite in place (no truncate): the record's blocks stay allocated.
            os.pwrite(fd, str(os.getpid()).encode().ljust(_PID_BYTES), 0)
            if os.fstat(fd).st_size < _RECORD:
                os.pwrite(fd, b" " * (_RECORD - _PID_BYTES), _PID_BYTES)
        except OSError as exc:
            os.close(fd)
            raise store_os_error(exc, f"taking the lock of pipeline {self.pipeline!r}") from exc
        self._fd = fd
        return self

    def leave_note(self, note: dict[str, Any]) -> bool:
        """Write ``note`` for the next holder; False if even that could not be written."""
        if self._fd is None:
            return False
        data = json.dumps(note, separators=(",", ":")).encode()[: _RECORD - _PID_BYTES]
        try:
            os.pwrite(self._fd, data.ljust(_RECORD - _PID_BYTES), _PID_BYTES)
            os.fsync(self._fd)
        except OSError:
            return False
        return True

    def clear_note(self) -> None:
        """The note has been recorded where it belongs: forget it."""
        self.last_words = None
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.pwrite(self._fd, b" " * (_RECORD - _PID_BYTES), _PID_BYTES)

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> PipelineLock:
        return self.acquire()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


def _note(raw: bytes) -> dict[str, Any] | None:
    text = raw.strip(b" \0\n")
    if not text:
        return None
    try:
        note = json.loads(text)
    except ValueError:
        return None
    return note if isinstance(note, dict) else None
