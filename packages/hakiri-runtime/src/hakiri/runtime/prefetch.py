"""Read pages ahead on a background thread while the run writes and commits.

The reader follows pages in exactly the order the run would (each page's ``next_pages``
after it), one request at a time — so a source's rate limits and ``Retry-After`` are
honoured as before — and stays at most ``depth`` pages ahead. Pages read ahead are only
data in memory: the committed cursor names the pages after the last *committed* one, so a
crash re-reads whatever was prefetched but not committed.
"""

from __future__ import annotations

import queue
import threading
from collections import deque
from collections.abc import Iterable, Iterator

from hakiri.core.closing import Closing
from hakiri.core.ports import Source
from hakiri.core.records import Page, PageData

__all__ = ["PageReader"]

_DONE = object()


class PageReader(Closing):
    """Iterate ``(page, data)`` in order; a read error is raised at its page's turn.

    ``frontier`` is the one record of what is left to take: the pages not yet handed to the
    consumer, in order — what a commit stores so that a crash resumes exactly there. It moves
    only when the consumer takes a page (pages read ahead are still in it).
    """

    def __init__(self, source: Source, pages: Iterable[Page], *, depth: int) -> None:
        self._source = source
        self._pending = deque(pages)
        self.frontier: deque[Page] = deque(self._pending)
        self._depth = depth
        self._queue: queue.Queue[object] = queue.Queue(maxsize=max(depth, 1))
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __iter__(self) -> Iterator[tuple[Page, PageData]]:
        for page, data in self._read():
            # Both sides take pages first in, first out, so the page handed over is the
            # frontier's first; the pages it reveals join the end, as they do for reading.
            self.frontier.popleft()
            self.frontier.extend(data.next_pages)
            yield page, data

    def _read(self) -> Iterator[tuple[Page, PageData]]:
        if self._depth == 0:
            yield from self._read_inline()
            return
        self._thread = threading.Thread(target=self._run, name="hakiri-prefetch", daemon=True)
        self._thread.start()
        while True:
            item = self._queue.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            assert isinstance(item, tuple)
            yield item

    def _read_inline(self) -> Iterator[tuple[Page, PageData]]:
        while self._pending:
            page = self._pending.popleft()
            data = self._source.read(page)
            self._pending.extend(data.next_pages)
            yield page, data

    def _run(self) -> None:
        try:
            while self._pending and not self._stop.is_set():
                page = self._pending.popleft()
                data = self._source.read(page)
                self._pending.extend(data.next_pages)
                self._put((page, data))
        except BaseException as exc:  # handed to the consumer, raised in its thread
            self._put(exc)
            return
        self._put(_DONE)

    def _put(self, item: object) -> None:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def close(self) -> None:
        """Stop reading ahead; wait (briefly) for a request in flight to end."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
