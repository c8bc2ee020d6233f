"""Options of the s3 source. The JSON Schema of ``S3SourceConfig`` is the connector's spec."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import ConfigDict, Field, field_validator, model_validator

from hakiri.connectors.file.config import FormatSettings
from hakiri.connectors.s3.pattern import literal_prefix

__all__ = ["S3SourceConfig"]

_REF = re.compile(r"secret://[A-Za-z_][A-Za-z0-9_.-]*")
_BUCKET = re.compile(r"[a-z0-9][a-z0-9._-]{1,254}", re.IGNORECASE)
_SECRET_FIELD = Field(
    default=None, description="A secret reference, secret://NAME (never the value itself)."
)


class S3SourceConfig(FormatSettings):
    """Objects of an S3-compatible bucket (AWS S3, R2, MinIO, …): CSV, JSON Lines, JSON or
    Parquet, one page per object, incremental by ETag."""

    model_config = ConfigDict(extra="forbid", title="s3 source", populate_by_name=True)

    bucket: str = Field(description="Bucket name (without s3://).")
    prefix: str = Field(default="", description="Read only keys starting with this.")
    pattern: str | None = Field(
        default=None,
        description="Glob on the whole key, e.g. 'exports/**/*.parquet'; '*' stays within "
        "one '/'-separated segment, '**' crosses them. Default: every key under prefix.",
    )
    endpoint_url: str | None = Field(
        default=None,
        description="Endpoint of an S3-compatible service (R2, MinIO, …). Default: AWS.",
    )
    region: str | None = Field(
        default=None, description="Region. Default: from the AWS configuration, else us-east-1."
    )
    access_key_id: str | None = _SECRET_FIELD
    secret_access_key: str | None = _SECRET_FIELD
    session_token: str | None = _SECRET_FIELD
    anonymous: bool = Field(
        default=False, description="Send unsigned requests (a public bucket); no credentials."
    )
    addressing_style: Literal["auto", "path", "virtual"] = Field(
        default="auto",
        description="How the bucket is addressed: in the path (MinIO and most self-hosted "
        "services) or in the host name.",
    )
    max_attempts: int = Field(
        default=5, ge=1, le=20, description="Attempts per request, the first included."
    )
    timeout: float = Field(default=60.0, gt=0, description="Connect and read timeout, seconds.")

    @field_validator("bucket")
    @classmethod
    def _bucket_name(cls, value: str) -> str:
        if value.startswith("s3://"):
            raise ValueError("give the bucket's name, without s3:// (the key goes in prefix)")
        if not _BUCKET.fullmatch(value):
            raise ValueError("must be a bucket name: letters, digits, '.', '-', '_'")
        return value

    @field_validator("access_key_id", "secret_access_key", "session_token")
    @classmethod
    def _secret_reference(cls, value: str | None) -> str | None:
        if value is not None and not _REF.fullmatch(value):
            raise ValueError(
                "must be a secret reference, secret://NAME: credentials never go in the manifest"
            )
        return value

    @field_validator("endpoint_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is None:
            return value
        scheme, _, rest = value.partition("://")
        if scheme.lower() not in ("http", "https") or not rest.strip("/"):
            raise ValueError("must be an absolute http:// or https:// URL")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _consistent(self) -> S3SourceConfig:
        if (self.access_key_id is None) != (self.secret_access_key is None):
            raise ValueError("access_key_id and secret_access_key go together")
        if self.session_token is not None and self.access_key_id is None:
            raise ValueError("session_token needs access_key_id and secret_access_key")
        if self.anonymous and self.access_key_id is not None:
            raise ValueError("anonymous requests take no credentials")
        if self.pattern is not None:
            fixed = literal_prefix(self.pattern)
            if not (fixed.startswith(self.prefix) or self.prefix.startswith(fixed)):
                raise ValueError(
                    f"pattern {self.pattern!r} can never match a key under prefix "
                    f"{self.prefix!r} (the pattern applies to the whole key)"
                )
        return self

    @property
    def list_prefix(self) -> str:
        """The longest prefix every key to read starts with: what ListObjectsV2 asks for."""
        fixed = literal_prefix(self.pattern) if self.pattern is not None else ""
        return fixed if len(fixed) > len(self.prefix) else self.prefix
