"""The github connector: issues, pull requests, issue comments or releases as a source.

``connector`` is the ``hakiri.connectors`` entry point. Importing this package loads the
config model only; urllib3 and pyarrow are imported when a source is built and read.
"""

from hakiri.connectors.github.config import GithubSourceConfig
from hakiri.connectors.github.factory import connector

__all__ = ["GithubSourceConfig", "connector"]
