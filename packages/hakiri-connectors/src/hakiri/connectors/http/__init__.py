"""The http connector: a paginated JSON REST API as a source.

``connector`` is the ``hakiri.connectors`` entry point. Importing this package loads the
config model only; urllib3 and pyarrow are imported when a source is built and read.
"""

from hakiri.connectors.http.config import HttpSourceConfig
from hakiri.connectors.http.factory import connector

__all__ = ["HttpSourceConfig", "connector"]
