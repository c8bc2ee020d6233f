"""Run a command and report its wall time and peak RSS (from the kernel, via wait4)."""

from __future__ import annotations

import os
import subprocess
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Measurement", "measure"]


@dataclass(frozen=True)
class Measurement:
    seconds: float
    peak_rss_mb: float
    """The largest resident set of the process or of any child it waited for."""
    returncode: int
    stdout: str
    stderr: str = ""
    timed_out: bool = False


def measure(
    argv: Sequence[str],
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float | None = None,
) -> Measurement:
    """Run ``argv`` to completion (killed after ``timeout`` seconds) and measure it."""
    # stderr goes to a file, not a pipe: a chatty tool must not block on a full pipe while
    # stdout is being read.
    with tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        proc = subprocess.Popen(
            list(argv),
            cwd=cwd,
            env=None if env is None else dict(env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
        )
        expired = threading.Event()

        def expire() -> None:
            expired.set()
            proc.kill()

        killer = threading.Timer(timeout, expire) if timeout else None
        if killer is not None:
            killer.start()
        try:
            assert proc.stdout is not None
            out = proc.stdout.read()
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            if killer is not None:
                killer.cancel()
        seconds = time.perf_counter() - started
        proc.stdout.close()
        proc.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        stderr = err.read().decode(errors="replace")
    # ru_maxrss is in KiB on Linux.
    rss = usage.ru_maxrss / 1024
    return Measurement(seconds, rss, proc.returncode, out, stderr, expired.is_set())
