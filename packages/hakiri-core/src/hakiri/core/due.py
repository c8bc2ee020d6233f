"""Which pipelines are due now: the pure decision a scheduler without memory takes.

A reconciler in an AWS Lambda (or any cron-driven caller) wakes up, reads the manifest and
each pipeline's last run start (from the catalog, a table, a bucket …) and asks
``due_pipelines``. No clock, no I/O: the caller passes ``now``.

The rules are the in-process scheduler's (``hakiri.runtime.scheduler``), minus its memory:

- A pipeline is due when the first slot of its schedule after its last run start has come:
  ``last + N`` for ``every N``, the next cron time after ``last`` for a cron expression.
  However many slots passed since, it is due once (never a burst).
- A pipeline that has **never run** is due at once: a caller without memory cannot wait for
  "the next slot after start-up", so the first run is owed now.
- A last run start later than ``now`` (clock skew between machines) counts as ``now``.
- A pipeline in ``running`` is not due (no overlap); one without a schedule never is.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import UTC, datetime

from hakiri.core.errors import ConfigError
from hakiri.core.manifest import Manifest, Project
from hakiri.core.schedule import Schedule, ScheduleError, parse_schedule, pipeline_schedule

__all__ = ["due_at", "due_pipelines", "schedules"]


def schedules(manifest: Project | Manifest) -> dict[str, Schedule]:
    """Each scheduled pipeline's parsed schedule, by name; a bad string is a ``ConfigError``
    naming the key (and, for a loaded ``Project``, the file and line)."""
    if isinstance(manifest, Project):
        parsed = {name: pipeline_schedule(manifest, name) for name in manifest.manifest.pipelines}
        return {name: schedule for name, schedule in parsed.items() if schedule is not None}
    found: dict[str, Schedule] = {}
    for name, pipeline in manifest.pipelines.items():
        if pipeline.schedule is None:
            continue
        try:
            found[name] = parse_schedule(pipeline.schedule)
        except ScheduleError as exc:
            key = f"pipelines.{name}.schedule"
            raise ConfigError(f"{key}: {exc}", key=key) from None
    return found


def due_at(schedule: Schedule, last_run: datetime | None, now: datetime) -> datetime:
    """When a pipeline with this schedule and last run start is due (``<= now``: due now)."""
    now = _utc(now, "now")
    if last_run is None:
        return now
    return schedule.next_after(min(_utc(last_run, "last_run"), now))


def due_pipelines(
    manifest: Project | Manifest,
    last_runs: Mapping[str, datetime],
    now: datetime,
    *,
    running: Collection[str] = (),
) -> list[str]:
    """The pipelines to start at ``now``, sorted by name.

    ``last_runs`` maps a pipeline to the start of its last run (missing: it never ran);
    ``running`` names pipelines with a run in flight. Times must be timezone-aware.
    """
    now = _utc(now, "now")
    return sorted(
        name
        for name, schedule in schedules(manifest).items()
        if name not in running and due_at(schedule, last_runs.get(name), now) <= now
    )


def _utc(when: datetime, what: str) -> datetime:
    if when.tzinfo is None:
        raise ValueError(f"{what} must be a timezone-aware datetime")
    return when.astimezone(UTC)
