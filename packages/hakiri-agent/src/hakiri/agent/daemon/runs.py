"""Runs the daemon starts: on request ("run now"), on schedule, and their live progress.

Every run, whatever started it, goes through ``RunManager``: it tells the scheduler a run is
in flight (so a schedule never overlaps a manual run), names the run before it starts (so
"run now" can answer with an id to follow), and keeps a short, bounded log of progress
events per run for the live tail. The catalog stays the record: these events only add what a
run has not committed yet.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hakiri.core.clock import SystemClock
from hakiri.core.errors import HakiriError, PipelineBusy
from hakiri.core.manifest import Project
from hakiri.runtime.scheduler import Scheduler

__all__ = ["LiveRun", "RunManager"]

log = logging.getLogger(__name__)

_KEEP_FINISHED = 200
"""Finished runs whose events stay in memory; older ones are answered from the catalog."""
_MAX_EVENTS = 1000
"""Events kept per run: progress beyond this drops the oldest (the final event is kept)."""


@dataclass
class LiveRun:
    """A run started by this daemon, as it goes."""

    run_id: str
    pipeline: str
    trigger: str
    events: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=_MAX_EVENTS))
    seq: int = 0
    done: bool = False
    summary: dict[str, Any] | None = None
    changed: threading.Condition = field(default_factory=threading.Condition)

    def emit(self, kind: str, **data: Any) -> None:
        with self.changed:
            self.seq += 1
            self.events.append({"id": self.seq, "event": kind, "data": data})
            self.changed.notify_all()

    def finish(self, summary: dict[str, Any]) -> None:
        with self.changed:
            self.summary = summary
            self.done = True
            self.seq += 1
            self.events.append({"id": self.seq, "event": "end", "data": summary})
            self.changed.notify_all()

    def events_after(self, seq: int, timeout: float) -> tuple[list[dict[str, Any]], bool]:
        """Events with an id above ``seq`` (waiting up to ``timeout`` s for one), and whether
        the run has ended."""
        with self.changed:
            if self.seq <= seq and not self.done:
                self.changed.wait(timeout)
            return [e for e in self.events if e["id"] > seq], self.done


class RunManager:
    """Starts runs of the project at ``root`` and tracks the ones in flight."""

    def __init__(self, root: Path, scheduler: Scheduler) -> None:
        self.root = root
        self.scheduler = scheduler
        self._runs: OrderedDict[str, LiveRun] = OrderedDict()
        self._threads: dict[str, threading.Thread] = {}
        self._lock = threading.Lock()
        self._stopping = False
        self.drained_cleanly = True
        """False when ``drain`` timed out with runs still in flight."""
        self.on_finished: Callable[[], None] | None = None
        """Called after a run started here ends (the daemon wakes its scheduler loop, which
        may owe that pipeline a run)."""

    # -- starting runs -------------------------------------------------------------------

    def start(self, pipeline: str, *, trigger: str) -> LiveRun:
        """Start a run of ``pipeline`` on a thread and return it at once.

        Raises ``UnknownPipeline``/``ManifestError`` for a bad name or manifest and
        ``PipelineBusy`` when the pipeline is running here or in another process.
        """
        from hakiri.core.lock import PipelineLock
        from hakiri.runtime.executor import new_run_id

        project = self._project()
        project.pipeline(pipeline)
        if self._stopping:
            raise PipelineBusy("the daemon is shutting down", hint="start the run elsewhere")
        if not self.scheduler.started(pipeline):
            raise PipelineBusy(
                f"pipeline {pipeline!r} is already running",
                hint="follow the current run, or wait for it to finish",
            )
        try:
            # A run by another process (a `hakiri run` in a terminal) holds the lock: say so
            # now rather than in the run's events. The run takes the lock again itself.
            PipelineLock(project.store_root, pipeline).acquire().release()
        except HakiriError:
            self.scheduler.finished(pipeline)
            raise
        live = self._track(new_run_id(SystemClock()), pipeline, trigger)
        thread = threading.Thread(
            target=self._execute, args=(live,), name=f"hakiri-run-{pipeline}", daemon=True
        )
        with self._lock:
            self._threads[live.run_id] = thread
        thread.start()
        return live

    def run_scheduled(self, pipeline: str) -> None:
        """The scheduler's runner: run ``pipeline`` on the calling thread (the scheduler has
        already marked it in flight and marks it finished afterwards)."""
        from hakiri.runtime.executor import new_run_id

        live = self._track(new_run_id(SystemClock()), pipeline, "schedule")
        with self._lock:
            self._threads[live.run_id] = threading.current_thread()
        self._execute(live, announced=False)

    def get(self, run_id: str) -> LiveRun | None:
        with self._lock:
            return self._runs.get(run_id)

    def in_flight(self) -> list[LiveRun]:
        with self._lock:
            return [run for run in self._runs.values() if not run.done]

    # -- shutting down -------------------------------------------------------------------

    def drain(self, timeout: float) -> bool:
        """Refuse new runs and wait up to ``timeout`` s for those in flight; True if they
        all ended. A run still going when the process exits is resumed by the next run."""
        self._stopping = True
        end = time.monotonic() + timeout
        with self._lock:
            threads = list(self._threads.values())
        for thread in threads:
            if thread is not threading.current_thread():
                thread.join(max(0.0, end - time.monotonic()))
        alive = any(t.is_alive() for t in threads if t is not threading.current_thread())
        self.drained_cleanly = not alive
        return not alive

    # -- internals -----------------------------------------------------------------------

    def _project(self) -> Project:
        from hakiri.core.manifest import load_project

        return load_project(self.root)

    def _track(self, run_id: str, pipeline: str, trigger: str) -> LiveRun:
        live = LiveRun(run_id, pipeline, trigger)
        live.emit("status", status="starting", pipeline=pipeline, trigger=trigger)
        with self._lock:
            self._runs[run_id] = live
            finished = [k for k, run in self._runs.items() if run.done]
            for key in finished[: max(0, len(finished) - _KEEP_FINISHED)]:
                del self._runs[key]
        return live

    def _execute(self, live: LiveRun, *, announced: bool = True) -> None:
        from hakiri.runtime.executor import run_pipeline

        def progress(pages: int, rows: int) -> None:
            live.emit("progress", pages=pages, rows=rows)

        summary: dict[str, Any]
        try:
            project = self._project()
            result = run_pipeline(
                project,
                live.pipeline,
                trigger=live.trigger,
                on_page=progress,
                run_id=live.run_id,
            )
            summary = result.to_dict()
        except HakiriError as err:
            summary = self._failed(live, {"code": err.code, "message": err.one_line()})
        except Exception as exc:  # noqa: BLE001 - a run's bug must not take the daemon down
            log.exception("run %s of pipeline %r failed", live.run_id, live.pipeline)
            summary = self._failed(live, {"code": "internal_error", "message": repr(exc)})
        finally:
            with self._lock:
                self._threads.pop(live.run_id, None)
            if announced:
                self.scheduler.finished(live.pipeline)
                if self.on_finished is not None:
                    self.on_finished()
        error = summary.get("error")
        log.info(
            "run %s of %s: %s (%s rows)%s",
            live.run_id,
            live.pipeline,
            summary["status"],
            summary.get("rows", 0),
            f" error[{error['code']}]: {error['message']}" if error else "",
        )
        live.finish(summary)

    def _failed(self, live: LiveRun, error: dict[str, Any]) -> dict[str, Any]:
        """The summary of a run that raised: its catalog record if the run got that far
        (``failed`` or ``partial_failure``), else a run that failed before it began."""
        from hakiri.agent.ops import run_trace

        try:
            record: dict[str, Any] = run_trace(self.root, live.run_id)["run"]
        except HakiriError:
            record = {}
        return {
            "run_id": live.run_id,
            "pipeline": live.pipeline,
            "status": record.get("status", "failed"),
            "rows": record.get("rows", 0),
            "error": error,
        }
