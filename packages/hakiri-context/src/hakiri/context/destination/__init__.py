"""The ``context`` connector: the local context store as a destination.

``connector`` is the ``hakiri.connectors`` entry point; pyarrow and the Parquet writer are
imported only when a file is staged.
"""

from hakiri.context.destination.destination import ContextDestination
from hakiri.context.destination.factory import ContextConnector, connector

__all__ = ["ContextConnector", "ContextDestination", "connector"]
