"""A fixed set of query processes and a bounded line of queries waiting for one.

A long-running server (``hakiri serve``, ``hakiri mcp``) keeps ``workers`` query processes.
A query takes an idle one or waits in line; when ``queue`` queries already wait, or none is
free within the query's own timeout, it is refused at once with ``QueryBusy`` (HTTP 503 with
Retry-After) rather than piling up threads and memory.
"""

from __future__ import annotations

import threading
import time

from hakiri.context._views import StorePlan
from hakiri.context.query import QueryResult
from hakiri.context.sandbox._process import QueryProcess
from hakiri.core.closing import Closing
from hakiri.core.errors import QueryBusy
from hakiri.core.query_limits import QueryLimits

__all__ = ["QueryPool"]


class QueryPool(Closing):
    """``limits.workers`` query processes (started on first use) behind a bounded queue.

    The process-wide bounds (``memory``, ``threads``, ``workers``, ``queue``) are those of
    ``limits``; each query brings its own timeout, row limit and byte cap.
    """

    def __init__(self, limits: QueryLimits) -> None:
        self.limits = limits
        self._idle = [QueryProcess(limits) for _ in range(limits.workers)]
        self._all = list(self._idle)
        self._waiting = 0
        self._closed = False
        self._changed = threading.Condition()

    @property
    def sandbox(self) -> str | None:
        """What keeps the query processes from writing, once one has started."""
        return next((p.sandbox for p in self._all if p.sandbox), None)

    def run(self, plan: StorePlan, sql: str, limits: QueryLimits) -> QueryResult:
        process = self._take(limits.timeout)
        try:
            return process.run_within(plan, sql, limits)
        finally:
            self._give_back(process)

    def _take(self, wait: float) -> QueryProcess:
        busy = QueryBusy(
            f"all {len(self._all)} query processes are busy and "
            f"{self.limits.queue} queries already wait",
            hint="try again in a moment, or raise [query] workers / queue in hakiri.toml",
        )
        with self._changed:
            if self._closed:
                raise QueryBusy("the query processes are shutting down")
            if not self._idle and self._waiting >= self.limits.queue:
                raise busy
            self._waiting += 1
            try:
                until = time.monotonic() + wait
                while not self._idle:
                    left = until - time.monotonic()
                    if left <= 0 or self._closed:
                        raise busy
                    self._changed.wait(left)
                return self._idle.pop()
            finally:
                self._waiting -= 1

    def _give_back(self, process: QueryProcess) -> None:
        with self._changed:
            if self._closed:
                process.close()
                return
            # A process killed for its query is replaced now, so the next query does not
            # wait for it to boot.
            process.start()
            self._idle.append(process)
            self._changed.notify()

    def close(self) -> None:
        with self._changed:
            self._closed = True
            idle, self._idle = self._idle, []
            self._changed.notify_all()
        for process in idle:
            process.close()
