"""The daemon's life: its scheduler, SIGHUP (reload hakiri.toml) and SIGTERM (drain, exit).

Each test starts its own ``hakiri serve`` subprocess (signals end or change it) against a
demo API on 127.0.0.1. A run is kept in flight by holding back one page of the source
(``hold_page``) and let go with ``release``; the scheduler test slows every answer instead, so
a run lasts longer than the schedule's interval.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from hakiri.agent import ops
from hakiri.agent.queries import QueryService
from hakiri.testing.cli import run_hakiri
from hakiri.testing.daemon import DaemonProcess
from hakiri.testing.demo_api import DemoApi
from hakiri.testing.project import write_manifest

pytestmark = pytest.mark.timeout(120)

_WAIT = 30.0
"""Seconds any awaited state may take before a test fails (a bound for a hang, not a timing)."""


def _pipeline(name: str, api: DemoApi, *, schedule: str | None = None, per_page: int = 10) -> str:
    """A pipeline reading ``api``'s issues in pages of ``per_page``, committing every 2."""
    when = f'schedule = "{schedule}"\n' if schedule else ""
    return f"""
[pipelines.{name}]
chunk_rows = {2 * per_page}
{when}
[pipelines.{name}.source]
connector = "http"
url = "{api.url}/issues"
params = {{ style = "link", per_page = {per_page} }}
pagination = {{ kind = "link_header" }}
"""


def _eventually(check: Callable[[], bool], what: str, timeout: float = _WAIT) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


@contextmanager
def _holding(api: DemoApi, page: int) -> Iterator[None]:
    """Hold back the ``page``-th request to ``api`` from now on until the block ends."""
    api.hold_page(page)
    try:
        yield
    finally:
        api.release()


def _health_after(daemon: DaemonProcess, check: Callable[[dict[str, Any]], bool]) -> Any:
    """``/healthz`` once ``check`` holds for it."""
    seen: list[Any] = []

    def ready() -> bool:
        seen[:] = [daemon.get("/healthz").json()]
        return check(seen[0])

    _eventually(ready, "/healthz to change")
    return seen[0]


# -- the scheduler ----------------------------------------------------------------------------


def test_a_short_schedule_fires_by_itself_and_never_overlaps(
    tmp_path: Path,
    demo_api: DemoApi,
) -> None:
    # 2 pages, each answered 0.6 s late: a run outlasts the 1 s interval (the shortest
    # schedule.py accepts), so the schedule is due again while the run is in flight.
    api = demo_api
    api.set_delay(0.6)
    project = tmp_path / "project"
    write_manifest(project, _pipeline("tick", api, schedule="every 1s", per_page=50))
    with DaemonProcess(project) as daemon:
        health = daemon.get("/healthz").json()
        assert health["pipelines"]["tick"] is not None  # scheduled, with a due time

        def three_finished() -> bool:
            runs: list[dict[str, Any]] = daemon.get("/v1/runs?pipeline=tick").json()["runs"]
            return sum(1 for r in runs if r["status"] != "running") >= 3

        _eventually(three_finished, "three scheduled runs")
        runs = daemon.get("/v1/runs?pipeline=tick").json()["runs"]
        assert daemon.stop(timeout=_WAIT) == 0, daemon.log()

    finished = sorted((r for r in runs if r["status"] != "running"), key=lambda r: r["started_at"])
    assert {r["trigger"] for r in runs} == {"schedule"}, runs
    assert {r["status"] for r in finished} == {"succeeded"}, finished
    assert {r["rows"] for r in finished} == {api.issue_count}, finished
    for before, after in zip(finished, finished[1:], strict=False):
        assert _at(before["finished_at"]) <= _at(after["started_at"]), (before, after)
    # A run the scheduler started while another was in flight would have met the pipeline
    # lock and failed before the catalog heard of it: the daemon's log would say so (it logs
    # each failed run's error code).
    log = daemon.log()
    assert "pipeline_busy" not in log, log


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text)


# -- SIGHUP -----------------------------------------------------------------------------------


def test_sighup_reloads_schedules_without_dropping_the_run_in_flight(
    tmp_path: Path,
    demo_api: DemoApi,
) -> None:
    api = demo_api
    project = tmp_path / "project"
    write_manifest(project, _pipeline("issues", api))
    reloaded = _pipeline("issues", api, schedule="every 1h") + _pipeline(
        "nightly", api, schedule="0 3 * * *"
    )
    with DaemonProcess(project) as daemon, _holding(api, page=3):
        assert daemon.get("/healthz").json()["pipelines"] == {"issues": None}
        run_id = daemon.post("/v1/pipelines/issues/runs").json()["run_id"]
        assert api.wait_held(_WAIT)

        # A schedule for the running pipeline and a new scheduled pipeline, no restart.
        write_manifest(project, reloaded)
        daemon.signal(signal.SIGHUP)
        health = _health_after(daemon, lambda h: h["reloads"] == 1)
        assert health["reload_error"] is None and health["status"] == "ok"
        assert set(health["pipelines"]) == {"issues", "nightly"}
        assert health["pipelines"]["nightly"].endswith("T03:00:00+00:00")
        due = health["pipelines"]["issues"]
        assert due is not None
        assert health["running"] == ["issues"]
        listed = {p["name"]: p for p in daemon.get("/v1/pipelines").json()["pipelines"]}
        assert listed["nightly"]["schedule"] == "0 3 * * *"

        # The run that was going when the manifest changed goes on to the end.
        api.release()
        run = daemon.wait_run(run_id, timeout=_WAIT)
        assert run["status"] == "succeeded" and run["rows"] == api.issue_count, run

        # A manifest that does not load: the error shows, the daemon keeps serving.
        (project / "hakiri.toml").write_text("[project\nname = 'broken'\n", encoding="utf-8")
        daemon.signal(signal.SIGHUP)
        health = _health_after(daemon, lambda h: h["reload_error"] is not None)
        assert health["reload_error"].startswith("error[manifest_invalid]: "), health
        assert "\n" not in health["reload_error"]
        assert health["reloads"] == 1 and health["status"] == "ok"
        answer = daemon.get("/v1/pipelines")
        assert answer.status == 400 and answer.json()["error"]["code"] == "manifest_invalid"

        # Fixed again: the schedule the broken reload left alone is still the one in force
        # (an unchanged pipeline keeps its due time; a dropped one would be due anew).
        write_manifest(project, reloaded)
        daemon.signal(signal.SIGHUP)
        health = _health_after(daemon, lambda h: h["reloads"] == 2)
        assert health["reload_error"] is None
        assert health["pipelines"]["issues"] == due
        assert daemon.stop(timeout=_WAIT) == 0, daemon.log()


# -- SIGTERM ----------------------------------------------------------------------------------


def test_sigterm_drains_the_run_in_flight_and_exits_0(
    tmp_path: Path,
    demo_api: DemoApi,
) -> None:
    api = demo_api
    project = tmp_path / "project"
    write_manifest(project, _pipeline("issues", api))
    with DaemonProcess(project) as daemon, _holding(api, page=3):
        run_id = daemon.post("/v1/pipelines/issues/runs").json()["run_id"]
        assert api.wait_held(_WAIT)
        daemon.signal(signal.SIGTERM)
        # The page is let go only once the daemon is waiting for its runs.
        _eventually(lambda: "draining" in daemon.log(), "the daemon to drain")
        assert daemon.proc is not None and daemon.proc.poll() is None
        api.release()
        assert daemon.stop(timeout=_WAIT) == 0, daemon.log()

    run = ops.run_trace(project, run_id)["run"]
    assert run["status"] == "succeeded" and run["rows"] == api.issue_count, run
    assert run["finished_at"] is not None


def test_drain_timeout_exits_3_and_the_next_run_resumes_without_loss(
    tmp_path: Path,
    demo_api: DemoApi,
) -> None:
    api = demo_api
    project = tmp_path / "project"
    write_manifest(project, _pipeline("issues", api))
    with (
        DaemonProcess(project, args=["--drain-timeout", "0.5"]) as daemon,
        _holding(api, page=6),
    ):
        run_id = daemon.post("/v1/pipelines/issues/runs").json()["run_id"]
        # Pages 1-4 are committed (two chunks of 20 rows), page 5 is read, page 6 hangs.
        assert api.wait_held(_WAIT)
        _eventually(
            lambda: daemon.get(f"/v1/runs/{run_id}").json()["run"]["rows"] == 40,
            "two committed chunks",
        )
        status = daemon.stop(timeout=_WAIT)
        assert status == 3, daemon.log()
    assert "runs still in flight" in daemon.log()

    interrupted = ops.run_trace(project, run_id)["run"]
    assert interrupted["status"] == "running"  # the catalog cannot know yet: nobody told it

    resumed = run_hakiri("run", "issues", "--json", cwd=project, timeout=_WAIT).check().json()
    assert resumed["status"] == "succeeded", resumed
    assert resumed["interrupted_runs"] == [run_id] and resumed["resumed_from"] == run_id
    assert resumed["rows"] == api.issue_count - 40  # only what was not committed

    marked = ops.run_trace(project, run_id)["run"]
    assert marked["status"] == "partial_failure" and marked["rows"] == 40, marked
    assert marked["error"]["code"] == "interrupted", marked
    with QueryService(project) as queries:
        counted = ops.context_query(
            queries, "select count(*), count(distinct id) from issues", limit=1, timeout=10
        )
    assert counted["rows"] == [[api.issue_count, api.issue_count]]
