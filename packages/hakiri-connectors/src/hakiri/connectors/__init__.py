"""Hakiri's built-in connectors.

Each connector is a subpackage exposing ``connector`` (a ``hakiri.core.ports.ConnectorFactory``)
and is registered under the ``hakiri.connectors`` entry point group:

- ``http``: a paginated REST API as a source;
- ``context``: the local context store as a destination.

Importing this package imports no connector; the runtime loads them by entry point.
"""

__all__: list[str] = []
