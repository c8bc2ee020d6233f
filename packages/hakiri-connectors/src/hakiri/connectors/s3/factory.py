"""The ``s3`` entry point (see ``hakiri.connectors._factory``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from hakiri.connectors._factory import SourceConnector
from hakiri.connectors.s3.config import S3SourceConfig
from hakiri.core.ports import Host, Source

if TYPE_CHECKING:
    from hakiri.connectors.s3.source import S3Source

__all__ = ["connector"]


def _build(config: S3SourceConfig, host: Host) -> S3Source:
    from hakiri.connectors.s3.source import S3Source

    return S3Source(config, host)


connector = SourceConnector(
    name="s3",
    description=(
        "Objects of an S3-compatible bucket (AWS, R2, MinIO): CSV, JSON Lines, JSON or "
        "Parquet, one page per object, incremental by ETag."
    ),
    model=S3SourceConfig,
    build=_build,
)

if TYPE_CHECKING:  # the type checker proves the source honours the port

    def _is_source(source: S3Source) -> Source:
        return source
