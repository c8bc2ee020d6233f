"""What the daemon holds while it runs: the project, its scheduler and the runs in flight."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from hakiri.agent.daemon.runs import RunManager
from hakiri.agent.queries import QueryService
from hakiri.core.clock import SystemClock
from hakiri.core.errors import HakiriError
from hakiri.core.manifest import Project, load_project
from hakiri.runtime.scheduler import Scheduler, SchedulerLoop

__all__ = ["Daemon", "ServeConfig"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ServeConfig:
    root: Path
    host: str = "127.0.0.1"
    port: int = 7700
    token: str | None = None
    scheduler: bool = True
    mcp: bool = True
    drain_timeout: float = 60.0
    allow_origins: frozenset[str] = frozenset()
    """Web origins (``scheme://host[:port]``) allowed to call besides the daemon's own."""
    max_body: int = 1 << 20
    """The largest request body, in bytes (413 beyond)."""
    read_timeout: float = 10.0
    """Seconds a client has to send a request's headers, then again its body."""


class Daemon:
    """The state behind the HTTP API. ``start`` and ``stop`` bracket its life."""

    def __init__(self, config: ServeConfig) -> None:
        self.config = config
        self.root = config.root
        self.scheduler = Scheduler(SystemClock())
        self.runs = RunManager(self.root, self.scheduler)
        self.loop = SchedulerLoop(self.scheduler, self.runs.run_scheduled)
        self.runs.on_finished = self.loop.wake
        self.stopping = threading.Event()
        self.started = time.monotonic()
        self.reloads = 0
        self.last_reload_error: str | None = None
        self.pipelines: list[str] = []
        """The pipelines of the manifest last loaded (kept while a reload fails)."""
        self.queries = QueryService(self.root)
        """The query processes behind ``/v1/query`` and MCP's ``context.query``."""

    # -- life ----------------------------------------------------------------------------

    def start(self) -> None:
        """Schedule the manifest's pipelines (a bad manifest fails here, before serving)."""
        project = load_project(self.root)
        self.loop.update(_schedules(project), _last_runs(project))
        self.pipelines = sorted(project.manifest.pipelines)
        if self.config.scheduler:
            self.loop.start()

    def reload(self) -> bool:
        """Read hakiri.toml again and reschedule (SIGHUP). In-flight runs go on; a manifest
        that does not load is logged and the previous schedule kept."""
        try:
            project = load_project(self.root)
            self.loop.update(_schedules(project), _last_runs(project))
            self.pipelines = sorted(project.manifest.pipelines)
        except HakiriError as err:
            self.last_reload_error = f"error[{err.code}]: {err.one_line()}"
            log.error("reload failed, keeping the previous schedule: %s", self.last_reload_error)
            return False
        self.reloads += 1
        self.last_reload_error = None
        log.info("reloaded %s", self.root / "hakiri.toml")
        return True

    def stop(self) -> bool:
        """Start no more runs and wait for those in flight (SIGTERM). True if all ended."""
        self.stopping.set()
        deadline = time.monotonic() + self.config.drain_timeout
        loop_ok = self.loop.stop(timeout=0.0 if not self.config.scheduler else 5.0)
        runs_ok = self.runs.drain(max(0.0, deadline - time.monotonic()))
        self.queries.close()
        if not runs_ok:
            log.warning(
                "runs still in flight after %gs; the next run of each resumes it",
                self.config.drain_timeout,
            )
        return loop_ok and runs_ok

    # -- status --------------------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        from hakiri.agent.ops import version

        scheduled: dict[str, str | None] = {}
        for name in self.pipelines:
            due = self.scheduler.next_due(name)
            scheduled[name] = due.isoformat() if due else None
        return {
            "status": "stopping" if self.stopping.is_set() else "ok",
            "version": version(),
            "project": str(self.root),
            "uptime_seconds": round(time.monotonic() - self.started, 1),
            "scheduler": self.config.scheduler,
            "pipelines": scheduled,
            "running": sorted(self.scheduler.running()),
            "reloads": self.reloads,
            "reload_error": self.last_reload_error,
            "query_sandbox": self.queries.sandbox,
        }


def _schedules(project: Project) -> dict[str, str | None]:
    return {name: spec.schedule for name, spec in project.manifest.pipelines.items()}


def _last_runs(project: Project) -> dict[str, datetime]:
    """Each pipeline's last run start, so a schedule missed while down fires once."""
    from hakiri.runtime.inspect import open_existing_catalog

    catalog = open_existing_catalog(project)
    if catalog is None:
        return {}
    try:
        last: dict[str, datetime] = {}
        for name in project.manifest.pipelines:
            runs = catalog.list_runs(name, limit=1)
            if runs:
                last[name] = runs[0].started_at
        return last
    finally:
        catalog.close()
