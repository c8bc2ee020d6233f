"""The github connector: issues, pull requests, issue comments or releases as a source.

``connector`` is the ``hakiri.connectors`` entry point. Importing this package loads the
config model only; urllib3 and pyarrow are imported when a source is built and read.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hakiri.connectors._factory import SourceConnector
from hakiri.connectors.github.config import GithubSourceConfig

if TYPE_CHECKING:
    from hakiri.connectors.github.source import GithubSource

__all__ = ["GithubSourceConfig", "connector"]

connector: SourceConnector[GithubSourceConfig, GithubSource] = SourceConnector(
    name="github",
    description=(
        "GitHub issues, pull requests, issue comments or releases of some repositories: "
        "incremental per repository, rate limits waited out."
    ),
    model=GithubSourceConfig,
    source="hakiri.connectors.github.source:GithubSource",
)
