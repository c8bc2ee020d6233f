"""Deterministic GitHub-issue-like records for the demo API.

An issue is a pure function of its id, so the API never holds the data set in memory and
two servers with the same count serve byte-identical pages. ``updated_at`` grows with the
id, so "sorted by updated_at, then id" is simply id order and ``since`` is arithmetic.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

__all__ = ["BASE_TIME", "STEP", "first_id_since", "format_time", "make_issue", "parse_time"]

BASE_TIME = datetime(2024, 1, 1, tzinfo=UTC)
"""``created_at`` of issue 1."""
STEP = timedelta(hours=1)
"""Time between two consecutive issues: 100 issues span a little over four days."""
_UPDATE_LAG = timedelta(minutes=30)

_VERBS = ("Fix", "Add", "Remove", "Document", "Speed up", "Refactor", "Test")
_THINGS = (
    "pagination",
    "the parquet writer",
    "retry backoff",
    "cursor handling",
    "the CLI help",
    "schema evolution",
    "secret lookup",
    "the query timeout",
    "incremental sync",
    "compaction",
    "the demo API",
)
_LOGINS = ("ada", "grace", "linus", "margaret", "ken", "barbara", "guido")
_LABELS = (
    ("bug", "d73a4a"),
    ("enhancement", "a2eeef"),
    ("documentation", "0075ca"),
    ("good first issue", "7057ff"),
    ("performance", "fbca04"),
)


def format_time(when: datetime) -> str:
    """ISO-8601 in UTC with a ``Z`` suffix and whole seconds, the way GitHub writes it."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str) -> datetime:
    """Parse an ISO-8601 timestamp; a value without a zone is taken as UTC."""
    value = datetime.fromisoformat(text.strip().replace(" ", "T"))
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def make_issue(issue_id: int) -> dict[str, Any]:
    """The issue with ``issue_id`` (1-based)."""
    created = BASE_TIME + (issue_id - 1) * STEP
    updated = created + _UPDATE_LAG
    labels = [_LABELS[issue_id % len(_LABELS)]]
    if issue_id % 4 == 0:
        labels.append(_LABELS[(issue_id * 3 + 1) % len(_LABELS)])
    verb = _VERBS[issue_id % len(_VERBS)]
    thing = _THINGS[(issue_id * 7) % len(_THINGS)]
    login_index = issue_id % len(_LOGINS)
    return {
        "id": issue_id,
        "number": issue_id,
        "title": f"{verb} {thing}",
        "state": "closed" if issue_id % 3 == 0 else "open",
        "body": (
            f"Issue {issue_id}: {verb.lower()} {thing}.\n\n"
            f"Reported by {_LOGINS[login_index]}; seen in build {1000 + issue_id * 13 % 97}."
        ),
        "user": {"login": _LOGINS[login_index], "id": 100 + login_index},
        "labels": [{"name": name, "color": color} for name, color in dict(labels).items()],
        "created_at": format_time(created),
        "updated_at": format_time(updated),
        "comments": (issue_id * 7) % 13,
    }


def first_id_since(since: datetime) -> int:
    """The smallest id whose ``updated_at`` is at or after ``since`` (inclusive, like
    GitHub's ``since``); may be larger than the number of issues."""
    offset = (since - BASE_TIME - _UPDATE_LAG) / STEP
    return max(1, math.ceil(offset) + 1)
