"""Live progress of a run on a terminal; silence when output is piped."""

from __future__ import annotations

import sys
import time
from typing import TextIO

__all__ = ["TerminalProgress", "format_rate"]


def format_rate(rows: int, seconds: float) -> str:
    return f"{rows / seconds:,.0f} rows/s" if seconds > 0 else "— rows/s"


class TerminalProgress:
    """Redraws one status line (pages, rows, rate) at most ten times a second."""

    def __init__(self, label: str, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty()
        self.label = label
        self.started = time.perf_counter()
        self._last_draw = 0.0
        self._drawn = False

    def __call__(self, pages: int, rows: int) -> None:
        if not self.enabled:
            return
        now = time.perf_counter()
        if now - self._last_draw < 0.1:
            return
        self._last_draw = now
        rate = format_rate(rows, now - self.started)
        self.stream.write(f"\r\x1b[2K{self.label}: {pages:,} pages · {rows:,} rows · {rate}")
        self.stream.flush()
        self._drawn = True

    def close(self) -> None:
        if self._drawn:
            self.stream.write("\r\x1b[2K")
            self.stream.flush()
            self._drawn = False
