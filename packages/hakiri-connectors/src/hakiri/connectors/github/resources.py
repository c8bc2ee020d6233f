"""The four GitHub REST endpoints the source reads, and what differs between them."""

from __future__ import annotations

from dataclasses import dataclass

from hakiri.connectors.github.config import GithubSourceConfig, Resource
from hakiri.core.cursor import JsonValue

__all__ = ["RESOURCES", "ResourceShape"]


@dataclass(frozen=True, slots=True)
class ResourceShape:
    """How one resource is listed."""

    name: Resource
    path: str
    """After ``/repos/{owner}/{repo}/``."""
    incremental: bool
    """Listed by ``updated_at`` and read from a per-repository watermark."""
    server_since: bool
    """The endpoint filters by ``since`` itself; otherwise the source filters the rows."""
    uses_state: bool
    description: str

    def params(self, config: GithubSourceConfig, since: str | None) -> dict[str, JsonValue]:
        """Query parameters of a repository's first page."""
        params: dict[str, JsonValue] = {}
        if self.uses_state:
            params["state"] = config.state
        if self.incremental:
            # Newest first: pages are numbered, and an item updated during the read moves to
            # the front, shifting the unread items back (read twice at worst, never skipped);
            # in ascending order the shift would go forward and skip one. It also lets the
            # pulls endpoint, which has no `since`, stop at the first older item.
            params["sort"] = "updated"
            params["direction"] = "desc"
            if self.server_since and since is not None:
                params["since"] = since
        params["per_page"] = config.per_page
        return params


RESOURCES: dict[str, ResourceShape] = {
    shape.name: shape
    for shape in (
        ResourceShape(
            "issues",
            "issues",
            incremental=True,
            server_since=True,
            uses_state=True,
            description="Issues (the endpoint's pull requests are left out).",
        ),
        ResourceShape(
            "pull_requests",
            "pulls",
            incremental=True,
            server_since=False,
            uses_state=True,
            description="Pull requests.",
        ),
        ResourceShape(
            "comments",
            "issues/comments",
            incremental=True,
            server_since=True,
            uses_state=False,
            description="Comments on issues and pull requests (their conversation tab).",
        ),
        ResourceShape(
            "releases",
            "releases",
            incremental=False,
            server_since=False,
            uses_state=False,
            description="Releases, read whole on every run (a snapshot).",
        ),
    )
}
