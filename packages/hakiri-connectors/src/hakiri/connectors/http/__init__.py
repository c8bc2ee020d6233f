"""The http connector: a paginated JSON REST API as a source.

``connector`` is the ``hakiri.connectors`` entry point. Importing this package loads the
config model only; urllib3 and pyarrow are imported when a source is built and read.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hakiri.connectors._factory import SourceConnector
from hakiri.connectors.http.config import HttpSourceConfig

if TYPE_CHECKING:
    from hakiri.connectors.http.source import HttpSource

__all__ = ["HttpSourceConfig", "connector"]

connector: SourceConnector[HttpSourceConfig, HttpSource] = SourceConnector(
    name="http",
    description=(
        "A JSON REST API: paginated (Link header, next URL, token, page number, offset), "
        "optionally incremental, with retries and secret references."
    ),
    model=HttpSourceConfig,
    source="hakiri.connectors.http.source:HttpSource",
)
