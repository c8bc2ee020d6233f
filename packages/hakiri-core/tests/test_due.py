"""The pure "which pipelines are due" decision a scheduler without memory (a Lambda) takes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from hakiri.core.due import due_at, due_pipelines, schedules
from hakiri.core.errors import ConfigError
from hakiri.core.manifest import Manifest, Project, load_project
from hakiri.core.schedule import parse_schedule

NOW = datetime(2026, 3, 1, 12, 7, 30, tzinfo=UTC)
MANIFEST = """[project]
name = "lambda"

[pipelines.orders]
source = { connector = "http" }
schedule = "every 15m"

[pipelines.nightly]
source = { connector = "http" }
schedule = "0 3 * * *"

[pipelines.manual]
source = { connector = "http" }
"""


@pytest.fixture
def project(tmp_path: Path) -> Project:
    (tmp_path / "hakiri.toml").write_text(MANIFEST, encoding="utf-8")
    return load_project(tmp_path)


def test_interval_is_due_once_its_slot_after_the_last_run_has_come(project: Project) -> None:
    last = {"nightly": NOW - timedelta(hours=1)}
    assert due_pipelines(project, last | {"orders": NOW - timedelta(minutes=14)}, NOW) == []
    assert due_pipelines(project, last | {"orders": NOW - timedelta(minutes=15)}, NOW) == ["orders"]
    # Many missed slots: due once, not a burst.
    assert due_pipelines(project, last | {"orders": NOW - timedelta(days=3)}, NOW) == ["orders"]


def test_cron_is_due_when_a_cron_time_passed_since_the_last_run(project: Project) -> None:
    recent = {"orders": NOW}
    yesterday_evening = datetime(2026, 2, 28, 20, 0, tzinfo=UTC)
    assert due_pipelines(project, recent | {"nightly": yesterday_evening}, NOW) == ["nightly"]
    today_at_three = datetime(2026, 3, 1, 3, 0, tzinfo=UTC)
    assert due_pipelines(project, recent | {"nightly": today_at_three}, NOW) == []


def test_never_run_pipelines_are_due_and_unscheduled_ones_never(project: Project) -> None:
    assert due_pipelines(project, {}, NOW) == ["nightly", "orders"]


def test_running_pipelines_and_future_last_runs_are_not_due(project: Project) -> None:
    assert due_pipelines(project, {}, NOW, running={"orders"}) == ["nightly"]
    skewed = {"orders": NOW + timedelta(minutes=5), "nightly": NOW + timedelta(days=1)}
    assert due_pipelines(project, skewed, NOW) == []


def test_a_manifest_model_works_without_a_project_directory(project: Project) -> None:
    manifest = Manifest.model_validate(project.manifest.model_dump())
    assert due_pipelines(manifest, {"nightly": NOW}, NOW) == ["orders"]
    assert set(schedules(manifest)) == {"orders", "nightly"}


def test_a_bad_schedule_is_a_config_error_naming_the_key(tmp_path: Path) -> None:
    body = MANIFEST.replace('"every 15m"', '"every 15x"')
    (tmp_path / "hakiri.toml").write_text(body, encoding="utf-8")
    project = load_project(tmp_path)
    with pytest.raises(ConfigError, match=r"hakiri.toml:6: pipelines.orders.schedule: "):
        due_pipelines(project, {}, NOW)
    with pytest.raises(ConfigError, match=r"^pipelines.orders.schedule: 'every 15x'"):
        due_pipelines(project.manifest, {}, NOW)


def test_due_at_and_naive_times() -> None:
    schedule = parse_schedule("every 1h")
    assert due_at(schedule, NOW, NOW) == NOW + timedelta(hours=1)
    assert due_at(schedule, None, NOW) == NOW
    with pytest.raises(ValueError, match="timezone-aware"):
        due_at(schedule, NOW.replace(tzinfo=None), NOW)
    with pytest.raises(ValueError, match="timezone-aware"):
        due_pipelines(Manifest.model_validate({"project": {"name": "p"}}), {}, datetime(2026, 1, 1))
