"""The ``http`` entry point (see ``hakiri.connectors._factory``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from hakiri.connectors._factory import SourceConnector
from hakiri.connectors.http.config import HttpSourceConfig
from hakiri.core.ports import Host, Source

if TYPE_CHECKING:
    from hakiri.connectors.http.source import HttpSource

__all__ = ["connector"]


def _build(config: HttpSourceConfig, host: Host) -> HttpSource:
    from hakiri.connectors.http.source import HttpSource

    return HttpSource(config, host)


connector = SourceConnector(
    name="http",
    description=(
        "A JSON REST API: paginated (Link header, next URL, token, page number, offset), "
        "optionally incremental, with retries and secret references."
    ),
    model=HttpSourceConfig,
    build=_build,
)

if TYPE_CHECKING:  # the type checker proves the source honours the port

    def _is_source(source: HttpSource) -> Source:
        return source
