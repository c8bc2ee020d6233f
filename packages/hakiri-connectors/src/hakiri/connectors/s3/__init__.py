"""The s3 connector: objects of an S3-compatible bucket as a source.

``connector`` is the ``hakiri.connectors`` entry point. Importing this package loads the
config model only; aiobotocore and anyio (the ``s3`` extra) are imported when the source
first talks to the bucket. Objects are decoded by the file connector's readers.
"""

from hakiri.connectors.s3.config import S3SourceConfig
from hakiri.connectors.s3.factory import connector

__all__ = ["S3SourceConfig", "connector"]
