"""``[query]``: sizes with units, safe defaults, and calls that may only narrow the bounds."""

from __future__ import annotations

from pathlib import Path

import pytest

from hakiri.core.errors import ManifestError
from hakiri.core.manifest import load_project
from hakiri.core.query_limits import QueryLimits


def _project(tmp_path: Path, body: str) -> Path:
    (tmp_path / "hakiri.toml").write_text(f'[project]\nname = "p"\n\n{body}', encoding="utf-8")
    return tmp_path


def test_defaults_are_safe() -> None:
    limits = QueryLimits()
    assert (limits.timeout, int(limits.memory), limits.max_rows) == (30.0, 1 << 30, 1000)
    assert int(limits.max_answer_bytes) == 16 << 20 and limits.max_sql_length == 100_000


def test_the_manifest_sets_them_with_units(tmp_path: Path) -> None:
    project = load_project(
        _project(tmp_path, '[query]\ntimeout = 5\nmemory = "512MiB"\nmax_answer_bytes = "1MB"\n')
    )
    limits = project.manifest.query
    assert (limits.timeout, int(limits.memory), int(limits.max_answer_bytes)) == (
        5.0,
        512 << 20,
        1_000_000,
    )


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('memory = "64MiB"', "query.memory: must be at least 128MiB"),
        ("timeout = 0", "query.timeout"),
        ("max_rows = 0", "query.max_rows"),
        ("workers = 0", "query.workers"),
        ("nope = 1", "unknown key"),
    ],
)
def test_bad_bounds_name_the_key(tmp_path: Path, body: str, message: str) -> None:
    with pytest.raises(ManifestError, match=message):
        load_project(_project(tmp_path, f"[query]\n{body}\n"))


def test_a_call_narrows_but_never_widens() -> None:
    limits = QueryLimits(timeout=10, max_rows=100)
    assert limits.narrowed(timeout=300, max_rows=5000).model_dump() == limits.model_dump()
    tighter = limits.narrowed(timeout=1, max_rows=3, max_answer_bytes=2048)
    assert (tighter.timeout, tighter.max_rows, int(tighter.max_answer_bytes)) == (1, 3, 2048)
