"""``GET /v1/runs/{run_id}/events``: a run's live tail as server-sent events.

A run started by this daemon streams from its in-memory events (progress per page); a run
started elsewhere (a `hakiri run` in a terminal, another daemon) is followed through the
catalog, which sees each commit. Either way the stream ends with an ``end`` event holding
the run's summary, and ends early (without ``end``) when the daemon shuts down.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Any

import anyio
import anyio.to_thread
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from hakiri.agent import ops
from hakiri.agent.daemon.errors import hakiri_error_response
from hakiri.agent.daemon.runs import LiveRun
from hakiri.agent.daemon.state import Daemon
from hakiri.core.errors import HakiriError

__all__ = ["run_events"]

_POLL = 0.2
"""How often a live stream looks for new events (no thread is held while it waits)."""
_CATALOG_POLL = 1.0
"""How often a run of another process is looked up in the catalog."""
_KEEPALIVE = 15.0
"""A comment line this often keeps proxies from closing a quiet stream."""


async def run_events(request: Request, daemon: Daemon) -> Response:
    run_id = request.path_params["run_id"]
    after = _last_event_id(request.headers.get("last-event-id"))
    live = daemon.runs.get(run_id)
    if live is not None:
        stream = _live(daemon, live, after)
    else:
        try:
            trace = await anyio.to_thread.run_sync(ops.run_trace, daemon.root, run_id)
        except HakiriError as err:
            return hakiri_error_response(err)
        stream = _from_catalog(daemon, run_id, trace["run"])
    return StreamingResponse(
        stream,
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


def _last_event_id(value: str | None) -> int:
    try:
        return max(0, int(value or 0))
    except ValueError:
        return 0


def _format(event_id: int | None, kind: str, data: Any) -> str:
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {kind}\ndata: {json.dumps(data, default=str)}\n\n"


async def _live(daemon: Daemon, live: LiveRun, after: int) -> AsyncIterator[str]:
    seq = after
    quiet_since = time.monotonic()
    while True:
        new = [e for e in list(live.events) if e["id"] > seq]
        for event in new:
            seq = event["id"]
            yield _format(seq, event["event"], event["data"])
        if new:
            quiet_since = time.monotonic()
            if new[-1]["event"] == "end":
                return
        elif live.done and live.seq <= seq:
            return
        if daemon.stopping.is_set():
            return
        if time.monotonic() - quiet_since > _KEEPALIVE:
            quiet_since = time.monotonic()
            yield ": keepalive\n\n"
        await anyio.sleep(_POLL)


async def _from_catalog(daemon: Daemon, run_id: str, run: dict[str, Any]) -> AsyncIterator[str]:
    seq = 0
    last: tuple[Any, ...] | None = None
    while True:
        state = (run.get("status"), run.get("rows"), run.get("pages"))
        if state != last:
            last = state
            seq += 1
            finished = run.get("status") != "running"
            yield _format(seq, "end" if finished else "status", run)
            if finished:
                return
        if daemon.stopping.is_set():
            return
        await anyio.sleep(_CATALOG_POLL)
        try:
            run = (await anyio.to_thread.run_sync(ops.run_trace, daemon.root, run_id))["run"]
        except HakiriError:
            return
