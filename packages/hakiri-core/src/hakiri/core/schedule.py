"""Pipeline schedules: ``every 15m`` intervals and 5-field cron expressions, in UTC.

Pure logic, no I/O. ``parse_schedule`` turns the manifest's ``schedule`` string into a
``Schedule`` (or raises ``ScheduleError``, a ``ValueError`` with a one-line reason);
``pipeline_schedule`` does the same for a pipeline of a project and reports a bad string as a
``ConfigError`` naming the file, the line and the key.

Grammar::

    every <N><unit>[<N><unit>…]   units d, h, m, s, largest first: every 30s, every 15m,
                                  every 2h, every 1d, every 1h30m (at least 1s)
    <min> <hour> <dom> <month> <dow>   a 5-field cron expression (cronsim's dialect)
    @hourly @daily @midnight @weekly @monthly @yearly @annually

Cron times are UTC (a per-pipeline ``timezone`` is future work).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from hakiri.core.errors import ConfigError
from hakiri.core.manifest import Project

__all__ = [
    "CRON_ALIASES",
    "CronSchedule",
    "IntervalSchedule",
    "Schedule",
    "ScheduleError",
    "parse_schedule",
    "pipeline_schedule",
]

CRON_ALIASES = {
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
}

_EVERY = re.compile(r"every\s+(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")
_UNITS = ("d", "h", "m", "s")
_SECONDS = {"d": 86_400, "h": 3_600, "m": 60, "s": 1}
_HINT = "use a cron expression ('*/15 * * * *') or 'every 15m'"


class ScheduleError(ValueError):
    """A schedule string that cannot be parsed; the message is one line."""


@dataclass(frozen=True, slots=True)
class IntervalSchedule:
    """``every …``: runs ``interval`` apart (fixed rate; the scheduler anchors the phase).

    Equality ignores the spelling: "every 60m" and "every 1h" are the same schedule, so an
    unchanged pipeline keeps its due time across a manifest reload.
    """

    text: str = field(compare=False)
    interval: timedelta

    def next_after(self, after: datetime) -> datetime:
        """The first due time strictly after ``after``, counting from ``after`` itself.

        The scheduler keeps its own anchor (the previous due time) for fixed-rate firing;
        this is the anchor-free answer used when there is no previous due time.
        """
        return _utc(after) + self.interval


@dataclass(frozen=True, slots=True)
class CronSchedule:
    """A 5-field cron expression, evaluated in UTC (equality compares the expression)."""

    text: str = field(compare=False)
    expression: str
    """The expression with any ``@alias`` expanded."""

    def next_after(self, after: datetime) -> datetime:
        """The first fire time strictly after ``after`` (UTC, whole seconds)."""
        from cronsim import CronSim

        # CronSim drops microseconds and yields strictly later times, so a time exactly on a
        # boundary is not returned again.
        return next(CronSim(self.expression, _utc(after)))


Schedule = IntervalSchedule | CronSchedule


def parse_schedule(text: str) -> Schedule:
    """Parse a manifest ``schedule`` string; raise ``ScheduleError`` with a one-line reason."""
    normalized = " ".join(text.split())
    if normalized.lower().startswith("every"):
        return _parse_every(text, normalized.lower())
    expression = CRON_ALIASES.get(normalized.lower(), normalized)
    if expression.startswith("@"):
        known = ", ".join(CRON_ALIASES)
        raise ScheduleError(f"{text!r} is not a schedule — aliases are {known}; or {_HINT}")
    fields = expression.split()
    if len(fields) != 5:
        raise ScheduleError(
            f"{text!r} is not a schedule — a cron expression has 5 fields "
            f"(minute hour day-of-month month day-of-week), this has {len(fields)}; {_HINT}"
        )
    from cronsim import CronSim, CronSimError

    try:
        CronSim(expression, datetime(2000, 1, 1, tzinfo=UTC))
    except CronSimError as exc:
        reason = str(exc).lower() or "invalid field"
        message = f"{text!r} is not a valid cron expression ({reason}); {_HINT}"
        raise ScheduleError(message) from None
    return CronSchedule(text=text, expression=expression)


def _parse_every(text: str, normalized: str) -> IntervalSchedule:
    match = _EVERY.fullmatch(normalized)
    if match is None or not any(match.groups()):
        raise ScheduleError(
            f"{text!r} is not a schedule — {_HINT} (units d, h, m, s, e.g. 'every 1h30m')"
        )
    seconds = sum(
        int(value) * _SECONDS[unit]
        for unit, value in zip(_UNITS, match.groups(), strict=True)
        if value is not None
    )
    if seconds < 1:
        raise ScheduleError(f"{text!r} is not a schedule — the shortest interval is 'every 1s'")
    return IntervalSchedule(text=text, interval=timedelta(seconds=seconds))


def pipeline_schedule(project: Project, name: str) -> Schedule | None:
    """The parsed schedule of pipeline ``name`` (None when it has none).

    A bad string raises ``ConfigError`` naming the file, the line and the key.
    """
    text = project.pipeline(name).schedule
    if text is None:
        return None
    try:
        return parse_schedule(text)
    except ScheduleError as exc:
        where = project.locate(name, ("schedule",))
        key = f"pipelines.{name}.schedule"
        raise ConfigError(f"{where}: {key}: {exc}", key=key) from None


def _utc(when: datetime) -> datetime:
    if when.tzinfo is None:
        raise ValueError("schedules need timezone-aware datetimes")
    return when.astimezone(UTC)
