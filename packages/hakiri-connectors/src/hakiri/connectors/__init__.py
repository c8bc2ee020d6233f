"""Hakiri's built-in connectors.

Each connector is a subpackage exposing ``connector`` (a ``hakiri.core.ports.ConnectorFactory``)
and is registered under the ``hakiri.connectors`` entry point group:

- ``http``: a paginated REST API as a source;
- ``github``: issues, pull requests, comments and releases of GitHub repositories;
- ``file``: CSV, JSON Lines, JSON and Parquet files from a path or glob;
- ``s3``: the same formats from an S3-compatible bucket (extra ``s3``);
- ``postgres``: a PostgreSQL table or query (extra ``postgres``);
- ``context``: the local context store as a destination.

``hakiri.connectors.testing`` is the conformance suite every source passes.

Importing this package imports no connector; the runtime loads them by entry point.
"""

__all__: list[str] = []
