"""The ``github`` entry point: validates options, checks secrets, builds a ``GithubSource``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal

from hakiri.connectors._options import validate_options
from hakiri.connectors.github.config import GithubSourceConfig
from hakiri.core.ports import ConnectorFactory, Host, Source
from hakiri.core.secrets import find_secret_refs

if TYPE_CHECKING:
    from hakiri.connectors.github.source import GithubSource

__all__ = ["GithubConnector", "connector"]


class GithubConnector:
    """Factory of github sources (a ``hakiri.core.ports.ConnectorFactory``)."""

    name: str = "github"
    kind: Literal["source", "destination"] = "source"
    description: str = (
        "GitHub issues, pull requests, issue comments or releases of some repositories: "
        "incremental per repository, rate limits waited out."
    )

    @property
    def config_model(self) -> type[GithubSourceConfig]:
        return GithubSourceConfig

    def create(self, options: Mapping[str, Any], host: Host) -> GithubSource:
        """A ``GithubSource`` for ``options``.

        Raises ``ConfigError`` for invalid options and ``SecretError`` when the token's
        secret is not set, before any request is made.
        """
        config = validate_options(GithubSourceConfig, options, self.name)
        for name in find_secret_refs(config.model_dump(mode="json")):
            host.secrets.resolve(name)  # the value is dropped: only its existence matters
        from hakiri.connectors.github.source import GithubSource

        return GithubSource(config, host)


connector = GithubConnector()

if TYPE_CHECKING:  # the type checker proves both sides of the port are honoured
    _factory: ConnectorFactory = connector

    def _is_source(source: GithubSource) -> Source:
        return source
