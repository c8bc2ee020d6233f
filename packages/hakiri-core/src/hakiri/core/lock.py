"""One writer per pipeline at a time (a run, a compaction), and a reliable sign that an
earlier run died.

The lock is an ``flock`` on ``<store>/locks/<pipeline>.lock``. The kernel releases it when the
holding process exits for any reason, SIGKILL included — so a run that finds the lock free
knows every run still marked ``running`` in the catalog belongs to a dead process.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from types import TracebackType

from hakiri.core.errors import PipelineBusy

__all__ = ["PipelineLock"]


class PipelineLock:
    def __init__(self, store_root: Path, pipeline: str) -> None:
        self.path = store_root / "locks" / f"{pipeline}.lock"
        self.pipeline = pipeline
        self._fd: int | None = None

    def acquire(self) -> PipelineLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "another process"
            os.close(fd)
            raise PipelineBusy(
                f"pipeline {self.pipeline!r} is already running (pid {holder})",
                hint="wait for that run to finish, or stop it",
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        self._fd = fd
        return self

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
