"""The github connector passes the source conformance suite against the local GitHub API."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

import pytest

from hakiri.connectors.testing import SourceConformance, SourceHarness
from hakiri.testing.github_api import GithubApi

REPO = "octo/conformance"
TOKEN = "ghp_conformance-token"


class GithubHarness(SourceHarness):
    """Rows are issues of one repository: number = id, title = name, comments = score,
    created_at = updated_at = the row's. A token is required, as on a private repo."""

    connector: ClassVar[str] = "github"
    id_field: ClassVar[str] = "number"

    def __init__(self) -> None:
        self.api = GithubApi(token=TOKEN).start()
        self.api.add_repo(REPO)

    def env(self) -> dict[str, str]:
        return {"GITHUB_TOKEN": TOKEN}

    def seed(self, rows: list[dict[str, Any]], *, page_rows: int) -> dict[str, Any]:
        self.api.clear(REPO)
        self.add(rows)
        return {
            "repos": [REPO],
            "resource": "issues",
            "token": "secret://GITHUB_TOKEN",
            "base_url": self.api.url,
            "per_page": page_rows,
        }

    def add(self, rows: list[dict[str, Any]]) -> None:
        for row in rows:
            self.api.add_issue(
                REPO,
                row["name"],
                number=row["id"],
                comments=row["score"],
                created_at=row["updated_at"],
                updated_at=row["updated_at"],
            )

    def bad_options(self) -> list[dict[str, Any]]:
        return [
            {},
            {"repos": []},
            {"repos": ["no-slash"]},
            {"repos": [REPO], "resource": "stars"},
            {"repos": [REPO], "token": "ghp_a_literal_token"},
            {"repos": [REPO], "per_page": 500},
        ]

    def close(self) -> None:
        self.api.stop()


class TestGithubConformance(SourceConformance):
    @pytest.fixture
    def harness(self) -> Iterator[SourceHarness]:
        harness = GithubHarness()
        yield harness
        harness.close()
