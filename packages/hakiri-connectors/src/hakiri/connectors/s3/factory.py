"""The ``s3`` entry point: validates options, checks secrets, builds an ``S3Source``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal

from hakiri.connectors._options import validate_options
from hakiri.connectors.s3.config import S3SourceConfig
from hakiri.core.ports import ConnectorFactory, Host, Source
from hakiri.core.secrets import find_secret_refs

if TYPE_CHECKING:
    from hakiri.connectors.s3.source import S3Source

__all__ = ["S3Connector", "connector"]


class S3Connector:
    """Factory of s3 sources (a ``hakiri.core.ports.ConnectorFactory``)."""

    name: str = "s3"
    kind: Literal["source", "destination"] = "source"
    description: str = (
        "Objects of an S3-compatible bucket (AWS, R2, MinIO): CSV, JSON Lines, JSON or "
        "Parquet, one page per object, incremental by ETag."
    )

    @property
    def config_model(self) -> type[S3SourceConfig]:
        return S3SourceConfig

    def create(self, options: Mapping[str, Any], host: Host) -> S3Source:
        """An ``S3Source`` for ``options``.

        Raises ``ConfigError`` for invalid options and ``SecretError`` when a referenced
        secret is not set. No request is made (and aiobotocore is not imported) until the
        source plans, reads or discovers.
        """
        config = validate_options(S3SourceConfig, options, self.name)
        for name in find_secret_refs(config.model_dump(mode="json")):
            host.secrets.resolve(name)  # the value is dropped: only its existence matters
        from hakiri.connectors.s3.source import S3Source

        return S3Source(config, host)


connector = S3Connector()

if TYPE_CHECKING:  # the type checker proves both sides of the port are honoured
    _factory: ConnectorFactory = connector

    def _is_source(source: S3Source) -> Source:
        return source
