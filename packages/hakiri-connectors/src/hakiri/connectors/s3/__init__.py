"""The s3 connector: objects of an S3-compatible bucket as a source.

``connector`` is the ``hakiri.connectors`` entry point. Importing this package loads the
config model only; aiobotocore and anyio (the ``s3`` extra) are imported when the source
first talks to the bucket. Objects are decoded by the file connector's readers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hakiri.connectors._factory import SourceConnector
from hakiri.connectors.s3.config import S3SourceConfig

if TYPE_CHECKING:
    from hakiri.connectors.s3.source import S3Source

__all__ = ["S3SourceConfig", "connector"]

connector: SourceConnector[S3SourceConfig, S3Source] = SourceConnector(
    name="s3",
    description=(
        "Objects of an S3-compatible bucket (AWS, R2, MinIO): CSV, JSON Lines, JSON or "
        "Parquet, one page per object, incremental by ETag."
    ),
    model=S3SourceConfig,
    source="hakiri.connectors.s3.source:S3Source",
)
