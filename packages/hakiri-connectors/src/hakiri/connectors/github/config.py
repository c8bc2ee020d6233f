"""Options of the github source. The JSON Schema of ``GithubSourceConfig`` is the spec."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = ["DEFAULT_BASE_URL", "GithubSourceConfig", "Resource"]

Resource = Literal["issues", "pull_requests", "comments", "releases"]
DEFAULT_BASE_URL = "https://api.github.com"

# GitHub's rules: an owner is letters, digits and single hyphens (at most 39), a repository
# name letters, digits, '.', '-' and '_' (at most 100). Both are safe in a URL path as is.
_REPO = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}")
_TOKEN_REF = re.compile(r"secret://[A-Za-z_][A-Za-z0-9_.-]*")


class GithubSourceConfig(BaseModel):
    """Issues, pull requests, issue comments or releases of GitHub repositories.

    Incremental for everything but releases: each repository keeps its own watermark
    (``updated_at``), sent back as ``since``.
    """

    model_config = ConfigDict(extra="forbid", title="github source")

    repos: list[str] = Field(
        min_length=1,
        description="Repositories to read, as 'owner/name'; each row says which in "
        "its 'repository' column.",
    )
    resource: Resource = Field(
        default="issues",
        description="'issues' (pull requests excluded), 'pull_requests', 'comments' "
        "(issue and pull request conversation comments) or 'releases' (a snapshot).",
    )
    token: str | None = Field(
        default=None,
        description="A secret reference to a GitHub token, e.g. 'secret://GITHUB_TOKEN', "
        "sent as 'Authorization: Bearer …'. Without it GitHub allows 60 requests an hour.",
    )
    base_url: str = Field(
        default=DEFAULT_BASE_URL,
        description="The API's root: https://api.github.com, or "
        "https://HOST/api/v3 for GitHub Enterprise Server.",
    )
    per_page: int = Field(
        default=100, ge=1, le=100, description="Items per request (GitHub allows 1 to 100)."
    )
    state: Literal["open", "closed", "all"] = Field(
        default="all",
        description="Issues and pull requests in this state only (ignored by comments "
        "and releases).",
    )
    since: str | None = Field(
        default=None,
        description="ISO 8601 time: the first run reads only what was updated at or "
        "after it (later runs start from their cursor). Ignored by releases.",
    )
    max_rate_limit_wait: float = Field(
        default=900.0,
        ge=0,
        description="Seconds the source may wait for the rate limit to reset; a reset "
        "further away fails the run, saying when it resets.",
    )
    timeout: float = Field(default=30.0, gt=0, description="Timeout per request, in seconds.")

    @field_validator("repos")
    @classmethod
    def _owner_name(cls, repos: list[str]) -> list[str]:
        seen: set[str] = set()
        for repo in repos:
            name = repo.split("/", 1)[-1]
            if not _REPO.fullmatch(repo) or name in (".", ".."):
                raise ValueError(f"{repo!r} is not a repository name; write it as 'owner/name'")
            if repo.lower() in seen:  # GitHub's names are case-insensitive
                raise ValueError(f"{repo!r} is listed twice")
            seen.add(repo.lower())
        return repos

    @field_validator("token")
    @classmethod
    def _secret_reference(cls, token: str | None) -> str | None:
        if token is not None and not _TOKEN_REF.fullmatch(token):
            # A token written into the manifest would end up in version control.
            raise ValueError(
                "must be a secret reference such as 'secret://GITHUB_TOKEN', not the token itself"
            )
        return token

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        scheme, _, rest = value.partition("://")
        if scheme.lower() not in ("http", "https") or not rest.strip("/"):
            raise ValueError("must be an absolute http:// or https:// URL")
        return value.rstrip("/")

    @field_validator("since")
    @classmethod
    def _timestamp(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            when = datetime.fromisoformat(value.strip())
        except ValueError:
            raise ValueError(
                f"{value!r} is not an ISO 8601 time, e.g. '2024-01-01T00:00:00Z'"
            ) from None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        # GitHub's own format, so that it orders as text against the updated_at it returns.
        return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
