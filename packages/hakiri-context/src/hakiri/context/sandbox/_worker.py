"""The query process: ``python -m hakiri.context.sandbox._worker``, driven over its stdin/stdout.

Start-up, before any request is read: import DuckDB and Arrow, warm one connection, then
forbid every file write for good (Landlock) and cap the address space (``RLIMIT_AS``) at
what the process holds now plus the memory it may still take. Only then does it read
requests — each a store plan (the views to create; sent when it changes) and one SQL text —
and answer each with an Arrow IPC stream or an error. It never opens the catalog: the parent
reads it and sends the plan.

Whatever a statement does inside DuckDB, this process cannot write a file, cannot grow past
its memory bound, and is killed by its parent when an interrupt does not stop it in time.
"""

from __future__ import annotations

import os
import resource
import sys
from typing import Any, BinaryIO

from hakiri.context._views import StorePlan
from hakiri.context.sandbox._landlock import forbid_writes
from hakiri.context.sandbox._protocol import encode_error, read_frame, write_frame
from hakiri.core.errors import HakiriError

_MiB = 1 << 20


def _status(field: str) -> int:
    """A ``/proc/self/status`` figure in bytes (0 where there is no /proc)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _cap_address_space(memory: int) -> int | None:
    """Let the address space grow by what is left of ``memory``; return the cap set."""
    size, resident = _status("VmSize"), _status("VmRSS")
    if not size:
        return None
    cap = size + max(memory - resident, 64 * _MiB)
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    return cap


class _Worker:
    def __init__(self, memory: int, threads: int) -> None:
        self.memory = memory
        self.threads = threads
        self.connection: Any = None
        self.fingerprint: str | None = None

    def open(self, plan: StorePlan) -> None:
        from hakiri.context.query import open_connection

        if self.connection is not None:
            self.connection.close()
            self.connection = None
        self.connection = open_connection(plan, memory_limit=self.memory // 2, threads=self.threads)
        self.fingerprint = plan.fingerprint

    def answer(self, request: dict[str, Any]) -> tuple[dict[str, Any], bytes]:
        import pyarrow as pa

        if "plan" in request:
            self.open(StorePlan.from_json(request["plan"]))
        if self.connection is None:
            raise HakiriError("the query process was sent a query before a store plan")
        result = self.connection.run_query(
            request["sql"],
            limit=request.get("limit"),
            timeout=request.get("timeout"),
            max_bytes=request.get("max_bytes"),
        )
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, result.table.schema) as writer:
            writer.write_table(result.table)
        header = {
            "ok": True,
            "truncated_by": result.truncated_by,
            "elapsed": result.elapsed,
            "peak_rss": _status("VmHWM"),
        }
        return header, sink.getvalue().to_pybytes()


def _prepare(worker: _Worker) -> dict[str, Any]:
    """Load what queries need, then close the doors for good: no writes, bounded memory."""
    from hakiri.context._duckdb import import_duckdb

    duckdb = import_duckdb()
    import pyarrow  # noqa: F401  (loaded before the cap: its import maps libraries)

    from hakiri.context import query  # noqa: F401

    warm = duckdb.connect(":memory:", config={"threads": worker.threads})
    warm.execute("SELECT 1").fetchall()
    sandbox = forbid_writes()
    cap = _cap_address_space(worker.memory)
    warm.close()
    return {"ok": True, "sandbox": sandbox, "address_space": cap, "pid": os.getpid()}


def main() -> int:
    # Frames go to the real stdout; anything else printed (a library's warning) goes to
    # stderr, so it can never corrupt the protocol.
    out: BinaryIO = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    source = sys.stdin.buffer
    hello = read_frame(source)
    if hello is None:
        return 0
    settings = hello[0]
    worker = _Worker(int(settings["memory"]), int(settings["threads"]))

    try:
        hello_answer = _prepare(worker)
    except HakiriError as err:  # DuckDB not installed, say
        write_frame(out, {"ok": False, "error": encode_error(err)})
        return 1
    write_frame(out, hello_answer)
    while (frame := read_frame(source)) is not None:
        request, _payload = frame
        try:
            header, payload = worker.answer(request)
        except HakiriError as err:
            header, payload = {"ok": False, "error": encode_error(err)}, b""
        except MemoryError:
            from hakiri.context.query import memory_error

            header, payload = {"ok": False, "error": encode_error(memory_error())}, b""
        except Exception as exc:  # a bug must end this query, not the process
            message = f"the query failed: {type(exc).__name__}: {exc}".splitlines()[0]
            header, payload = (
                {"ok": False, "error": {"code": "query_error", "message": message}},
                b"",
            )
        # A query that ran out of memory leaves the process's address space grown and
        # fragmented (DuckDB and malloc keep what they reserved) under the same cap: the
        # process retires after answering, and its parent starts a fresh one.
        retire = not header.get("ok") and header["error"].get("code") == "query_memory"
        if retire:
            header["retire"] = True
        write_frame(out, header, payload)
        if retire:
            break
    return 0


if __name__ == "__main__":
    sys.exit(main())
