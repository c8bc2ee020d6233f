"""One query process, seen from its parent: start it, send it queries, stop it when it must.

The parent never trusts the child to stop: while it waits for an answer it watches the
clock and the child's resident memory, and kills the child (SIGKILL) once the query is past
its timeout plus a short grace, or past its memory bound. A killed child is replaced on the
next query.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from typing import TYPE_CHECKING, Any

from hakiri.context._views import StorePlan
from hakiri.context.query import QueryResult, memory_error, timeout_error
from hakiri.context.sandbox._protocol import FRAME_HEAD, decode_error, pack
from hakiri.core.closing import Closing
from hakiri.core.errors import QueryError

if TYPE_CHECKING:
    from hakiri.core.query_limits import QueryLimits

__all__ = ["GRACE", "QueryProcess"]

GRACE = 0.5
"""Seconds past its timeout a query gets to stop by itself before its process is killed."""
_START_TIMEOUT = 60.0
_POLL = 0.02
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


class _Killed(Exception):
    def __init__(self, why: str) -> None:
        self.why = why


class QueryProcess(Closing):
    """A worker process for queries, with the process-wide bounds of ``limits``."""

    def __init__(self, limits: QueryLimits) -> None:
        self.memory = int(limits.memory)
        self.threads = limits.threads
        self.sandbox: str | None = None
        """What keeps the process from writing (``"landlock ABI 7"``), once started."""
        self.peak_rss = 0
        """The most memory the last query's process was seen to hold, in bytes."""
        self._proc: subprocess.Popen[bytes] | None = None
        self._plan: str | None = None
        self._ready = False

    # -- lifetime -------------------------------------------------------------------------

    def start(self) -> None:
        """Start the process if none runs; returns at once (it boots in the background)."""
        if self._proc is not None and self._proc.poll() is None:
            return
        env = dict(os.environ)
        # Few malloc arenas: each reserves address space, which the cap counts.
        env["MALLOC_ARENA_MAX"] = "2"
        debug = env.get("HAKIRI_DEBUG")
        self._proc = subprocess.Popen(
            [sys.executable, "-B", "-m", "hakiri.context.sandbox._worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=None if debug else subprocess.DEVNULL,
            env=env,
            close_fds=True,
            start_new_session=True,  # a Ctrl-C meant for the parent is the parent's to handle
        )
        self._plan = None
        self._ready = False
        assert self._proc.stdin is not None
        self._proc.stdin.write(pack({"memory": self.memory, "threads": self.threads}))
        self._proc.stdin.flush()

    def close(self) -> None:
        """Stop the process. It holds nothing worth a graceful exit, so it is killed."""
        self._kill()

    def _kill(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        for pipe in (proc.stdin, proc.stdout):
            if pipe is not None:
                try:
                    pipe.close()
                except OSError:
                    pass

    # -- queries --------------------------------------------------------------------------

    def run(
        self,
        plan: StorePlan,
        sql: str,
        *,
        limit: int | None,
        timeout: float | None,
        max_bytes: int | None,
    ) -> QueryResult:
        """One query in the process; the process is replaced if it had to be killed."""
        started = time.perf_counter()
        self.start()
        if not self._ready:
            hello = self._receive(time.monotonic() + _START_TIMEOUT, what="start")[0]
            if not hello.get("ok"):
                self._kill()
                raise decode_error(hello.get("error") or {})
            self.sandbox = str(hello.get("sandbox"))
            self._ready = True
        request: dict[str, Any] = {
            "op": "query",
            "sql": sql,
            "limit": limit,
            "timeout": timeout,
            "max_bytes": max_bytes,
        }
        fingerprint = plan.fingerprint
        if fingerprint != self._plan:
            request["plan"] = plan.to_json()
        self._send(request)
        self._plan = fingerprint
        deadline = None if timeout is None else time.monotonic() + timeout + GRACE
        try:
            header, payload = self._receive(deadline, what="query")
        except _Killed as killed:
            if killed.why == "memory":
                raise memory_error(f"over {self.memory // (1 << 20)} MiB") from None
            raise timeout_error(timeout) from None
        if not header.get("ok"):
            if header.get("retire"):
                self._kill()  # it leaves after a memory error; the next query starts anew
            raise decode_error(header.get("error") or {})
        self.peak_rss = max(self.peak_rss, int(header.get("peak_rss") or 0))
        import pyarrow as pa

        table = pa.ipc.open_stream(pa.py_buffer(payload)).read_all()
        cut = header.get("truncated_by")
        return QueryResult(table, cut is not None, time.perf_counter() - started, cut)

    def run_within(self, plan: StorePlan, sql: str, limits: QueryLimits) -> QueryResult:
        """``run`` with a query's bounds from ``limits`` (rows, bytes, timeout)."""
        return self.run(
            plan,
            sql,
            limit=limits.max_rows,
            timeout=limits.timeout,
            max_bytes=int(limits.max_answer_bytes),
        )

    def _send(self, request: dict[str, Any]) -> None:
        proc = self._proc
        assert proc is not None and proc.stdin is not None
        try:
            proc.stdin.write(pack(request))
            proc.stdin.flush()
        except OSError:
            self._kill()
            raise QueryError(
                "the query process ended before it was sent the query",
                hint="run the query again; see the daemon's log if it keeps happening",
            ) from None

    def _receive(self, deadline: float | None, *, what: str) -> tuple[dict[str, Any], bytes]:
        head = self._read(FRAME_HEAD.size, deadline, what)
        header_size, payload_size = FRAME_HEAD.unpack(head)
        import json

        header = json.loads(self._read(header_size, deadline, what))
        payload = self._read(payload_size, deadline, what) if payload_size else b""
        return header, payload

    def _read(self, size: int, deadline: float | None, what: str) -> bytes:
        """``size`` bytes from the child, watching its clock and memory meanwhile."""
        proc = self._proc
        assert proc is not None and proc.stdout is not None
        fd = proc.stdout.fileno()
        chunks: list[bytes] = []
        wanted = size
        while wanted:
            self._watch(proc.pid, deadline)
            readable, _, _ = select.select([fd], [], [], _POLL)
            if not readable:
                continue
            chunk = os.read(fd, min(wanted, 1 << 20))
            if not chunk:
                raise self._died(what)
            chunks.append(chunk)
            wanted -= len(chunk)
        return b"".join(chunks)

    def _watch(self, pid: int, deadline: float | None) -> None:
        rss = _resident(pid)
        self.peak_rss = max(self.peak_rss, rss)
        if rss > self.memory:
            self._kill()
            raise _Killed("memory")
        if deadline is not None and time.monotonic() > deadline:
            self._kill()
            raise _Killed("timeout")

    def _died(self, what: str) -> QueryError:
        proc = self._proc
        code = proc.wait() if proc is not None else None
        self._kill()
        how = f"exit code {code}"
        if code is not None and code < 0:
            how = f"signal {signal.Signals(-code).name}"
        if what == "start":
            return QueryError(
                f"the query process could not start ({how})",
                hint="run with HAKIRI_DEBUG=1 to see its error output",
            )
        return QueryError(
            f"the query process ended while it ran the query ({how}); it was most likely "
            "out of memory",
            hint="aggregate or filter more in SQL, or raise [query] memory in hakiri.toml",
        )


def _resident(pid: int) -> int:
    """``pid``'s resident set in bytes (0 where there is no /proc)."""
    try:
        with open(f"/proc/{pid}/statm", encoding="ascii") as statm:
            return int(statm.read().split()[1]) * _PAGE
    except (OSError, IndexError, ValueError):
        return 0
