"""The ``github`` entry point (see ``hakiri.connectors._factory``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from hakiri.connectors._factory import SourceConnector
from hakiri.connectors.github.config import GithubSourceConfig
from hakiri.core.ports import Host, Source

if TYPE_CHECKING:
    from hakiri.connectors.github.source import GithubSource

__all__ = ["connector"]


def _build(config: GithubSourceConfig, host: Host) -> GithubSource:
    from hakiri.connectors.github.source import GithubSource

    return GithubSource(config, host)


connector = SourceConnector(
    name="github",
    description=(
        "GitHub issues, pull requests, issue comments or releases of some repositories: "
        "incremental per repository, rate limits waited out."
    ),
    model=GithubSourceConfig,
    build=_build,
)

if TYPE_CHECKING:  # the type checker proves the source honours the port

    def _is_source(source: GithubSource) -> Source:
        return source
