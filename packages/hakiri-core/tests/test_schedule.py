"""Schedule strings: the `every` grammar, 5-field cron and aliases, and the errors for the rest."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from hakiri.core.errors import ConfigError
from hakiri.core.manifest import load_project
from hakiri.core.schedule import (
    CronSchedule,
    IntervalSchedule,
    ScheduleError,
    parse_schedule,
    pipeline_schedule,
)

T0 = datetime(2026, 3, 1, 12, 7, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("every 30s", 30),
        ("every 15m", 900),
        ("every 2h", 7200),
        ("every 1d", 86_400),
        ("every 1h30m", 5400),
        ("  every   1d2h3m4s ", 93_784),
        ("EVERY 5M", 300),
        ("every 1s", 1),
    ],
)
def test_every(text: str, seconds: int) -> None:
    schedule = parse_schedule(text)
    assert isinstance(schedule, IntervalSchedule)
    assert schedule.interval == timedelta(seconds=seconds)
    assert schedule.next_after(T0) == T0 + timedelta(seconds=seconds)


@pytest.mark.parametrize(
    ("text", "after", "expected"),
    [
        ("*/15 * * * *", T0, datetime(2026, 3, 1, 12, 15, tzinfo=UTC)),
        ("*/15 * * * *", datetime(2026, 3, 1, 12, 15, tzinfo=UTC), T0.replace(minute=30, second=0)),
        ("0 3 * * *", T0, datetime(2026, 3, 2, 3, 0, tzinfo=UTC)),
        ("@hourly", T0, datetime(2026, 3, 1, 13, 0, tzinfo=UTC)),
        ("@daily", T0, datetime(2026, 3, 2, tzinfo=UTC)),
        ("@midnight", T0, datetime(2026, 3, 2, tzinfo=UTC)),
        ("@weekly", T0, datetime(2026, 3, 8, tzinfo=UTC)),  # 2026-03-08 is a Sunday
        ("@monthly", T0, datetime(2026, 4, 1, tzinfo=UTC)),
        ("@yearly", T0, datetime(2027, 1, 1, tzinfo=UTC)),
        ("@annually", T0, datetime(2027, 1, 1, tzinfo=UTC)),
    ],
)
def test_cron_in_utc(text: str, after: datetime, expected: datetime) -> None:
    schedule = parse_schedule(text)
    assert isinstance(schedule, CronSchedule)
    assert schedule.next_after(after) == expected


def test_cron_converts_other_timezones_to_utc() -> None:
    plus_two = datetime(2026, 3, 1, 14, 7, tzinfo=timezone(timedelta(hours=2)))  # 12:07 UTC
    assert parse_schedule("0 * * * *").next_after(plus_two) == datetime(2026, 3, 1, 13, tzinfo=UTC)


def test_equality_ignores_spelling() -> None:
    assert parse_schedule("every 60m") == parse_schedule("every 1h")
    assert parse_schedule("@daily") == parse_schedule("0 0 * * *")
    assert parse_schedule("every 1h") != parse_schedule("0 * * * *")


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("every 15x", "is not a schedule"),
        ("every", "is not a schedule"),
        ("every 0s", "shortest interval"),
        ("every 15m1h", "is not a schedule"),
        ("every -5m", "is not a schedule"),
        ("every 1.5h", "is not a schedule"),
        ("* * * *", "5 fields"),
        ("0 * * * * *", "5 fields"),
        ("61 * * * *", "bad minute"),
        ("0 25 * * *", "bad hour"),
        ("@reboot", "aliases are"),
        ("", "5 fields"),
        ("sometimes", "5 fields"),
    ],
)
def test_bad_schedules(text: str, reason: str) -> None:
    with pytest.raises(ScheduleError) as info:
        parse_schedule(text)
    message = str(info.value)
    assert reason in message
    assert "\n" not in message
    assert "'every 1" in message


def test_pipeline_schedule_names_file_line_and_key(tmp_path: Path) -> None:
    (tmp_path / "hakiri.toml").write_text(
        '[project]\nname = "p"\n\n[pipelines.good]\nschedule = "@hourly"\n'
        'source = { connector = "http" }\n\n'
        '[pipelines.issues]\nsource = { connector = "http" }\nschedule = "every 15x"\n'
        '\n[pipelines.none]\nsource = { connector = "http" }\n'
    )
    project = load_project(tmp_path)
    assert pipeline_schedule(project, "good") == CronSchedule("@hourly", "0 * * * *")
    assert pipeline_schedule(project, "none") is None
    with pytest.raises(ConfigError) as info:
        pipeline_schedule(project, "issues")
    assert info.value.one_line().startswith(
        f"{tmp_path / 'hakiri.toml'}:10: pipelines.issues.schedule: 'every 15x' is not a schedule"
    )
