"""The ``http`` entry point: validates options, checks secrets, builds an ``HttpSource``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal

from hakiri.connectors._options import validate_options
from hakiri.connectors.http.config import HttpSourceConfig
from hakiri.core.ports import ConnectorFactory, Host, Source
from hakiri.core.secrets import find_secret_refs

if TYPE_CHECKING:
    from hakiri.connectors.http.source import HttpSource

__all__ = ["HttpConnector", "connector"]


class HttpConnector:
    """Factory of http sources (a ``hakiri.core.ports.ConnectorFactory``)."""

    name: str = "http"
    kind: Literal["source", "destination"] = "source"
    description: str = (
        "A JSON REST API: paginated (Link header, next URL, token, page number, offset), "
        "optionally incremental, with retries and secret references."
    )

    @property
    def config_model(self) -> type[HttpSourceConfig]:
        return HttpSourceConfig

    def create(self, options: Mapping[str, Any], host: Host) -> HttpSource:
        """An ``HttpSource`` for ``options``.

        Raises ``ConfigError`` for invalid options and ``SecretError`` when a referenced
        secret is not set, before any request is made.
        """
        config = validate_options(HttpSourceConfig, options, self.name)
        for name in find_secret_refs(config.model_dump(mode="json")):
            host.secrets.resolve(name)  # the value is dropped: only its existence matters
        # Imported here so that loading the entry point stays cheap (urllib3 is imported
        # only when a source is actually built).
        from hakiri.connectors.http.source import HttpSource

        return HttpSource(config, host)


connector = HttpConnector()

if TYPE_CHECKING:  # the type checker proves both sides of the port are honoured
    _factory: ConnectorFactory = connector

    def _is_source(source: HttpSource) -> Source:
        return source
