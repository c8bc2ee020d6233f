"""The s3 connector's calls on a bucket: list (with a ``keep`` filter), find the first
object, download one, for the synchronous Source API.

The event loop, the client and the wording of botocore's errors are hakiri-core's
``S3Handle`` / ``classify``, shared with the S3 object store; what is the connector's is
which calls it makes, resolving its ``secret://`` references through the host's secrets
(when the first request is made, and kept only by botocore), and turning failures into
``SourceError`` / ``SourceUnreachable`` with hints that name its options. Every method may
be called from any thread: the run's prefetch thread reads while the main thread plans.
"""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, BinaryIO, TypeVar

from hakiri.connectors.s3.config import S3SourceConfig
from hakiri.core.closing import Closing
from hakiri.core.errors import HakiriError, SourceError, SourceUnreachable
from hakiri.core.objectstore.s3client import (
    FailureKind,
    S3Failure,
    S3Handle,
    S3Settings,
    classify,
    error_code,
    error_status,
)
from hakiri.core.ports import SecretResolver

__all__ = ["S3Client", "S3Object"]

T = TypeVar("T")

_CHUNK = 1 << 20
_GONE = {"NoSuchKey", "PreconditionFailed", "404", "412"}
"""Answers to a GetObject that mean: not there, or no longer the planned version."""
_INSTALL = "pip install 'hakiri-connectors[s3]' (or 'hakiri[s3]' for the hakiri profile)"
_HINTS: dict[FailureKind, str | None] = {
    "no_credentials": "set access_key_id / secret_access_key (secret://NAME references), or "
    "anonymous = true for a public bucket",
    "unreachable": "check endpoint_url / region and the network",
    "denied": "check the access_key_id / secret_access_key secrets and the bucket's policy "
    "(s3:ListBucket and s3:GetObject are needed)",
    "no_bucket": "check bucket (and region / endpoint_url)",
    "unsupported": "check endpoint_url: the service does not implement this S3 request",
    "refused": None,
    "botocore": "check the s3 options and the AWS configuration (profile, region)",
}


@dataclass(frozen=True, slots=True)
class S3Object:
    key: str
    etag: str
    size: int


def _wanted(item: dict[str, Any], keep: Callable[[str], bool]) -> S3Object | None:
    """A listed item as an object to read, unless ``keep`` refuses its key or it is a
    console's "folder" marker."""
    key: str = item["Key"]
    if key.endswith("/") or not keep(key):
        return None
    return S3Object(key, item.get("ETag", ""), int(item.get("Size", 0)))


def _source_error(failure: S3Failure) -> SourceError:
    kind = SourceUnreachable if failure.kind == "unreachable" else SourceError
    return kind(failure.message, hint=_HINTS[failure.kind])


class S3Client(Closing):
    """ListObjectsV2 and GetObject on one bucket, as blocking calls."""

    def __init__(self, config: S3SourceConfig, secrets: SecretResolver) -> None:
        self.config = config
        self._secrets = secrets
        self._lock = threading.Lock()
        self._handle: S3Handle | None = None

    @property
    def client_config(self) -> Any:
        """The botocore config of the client (its checksum settings, retries)."""
        return self._started().client_config

    def _settings(self) -> S3Settings:
        config = self.config
        return S3Settings(
            bucket=config.bucket,
            endpoint_url=config.endpoint_url,
            region=config.region,
            access_key_id=self._secret(config.access_key_id),
            secret_access_key=self._secret(config.secret_access_key),
            session_token=self._secret(config.session_token),
            anonymous=config.anonymous,
            addressing_style=config.addressing_style,
            max_attempts=config.max_attempts,
            timeout=config.timeout,
        )

    def _secret(self, reference: str | None) -> str | None:
        if reference is None:
            return None  # botocore's chain finds one (environment, profile, role)
        return self._secrets.resolve(reference.removeprefix("secret://"))

    def _started(self) -> S3Handle:
        with self._lock:
            if self._handle is None:
                self._handle = S3Handle(
                    self._settings(), needed_by="the s3 connector", install=_INSTALL
                )
            return self._handle

    def close(self) -> None:
        with self._lock:
            handle, self._handle = self._handle, None
        if handle is not None:
            handle.close()

    def _call(self, make: Callable[[Any], Awaitable[T]], operation: str) -> T:
        """``await make(client)``, with botocore's errors as one clear ``SourceError`` line."""
        handle = self._started()
        try:
            return handle.call(make)
        except HakiriError:
            raise
        except Exception as exc:
            failure = classify(exc, handle.settings, operation)
            if failure is None:
                raise
            raise _source_error(failure) from None

    # -- calls ------------------------------------------------------------------------------

    def list_objects(self, prefix: str, keep: Callable[[str], bool]) -> list[S3Object]:
        """Every object under ``prefix`` whose key ``keep`` accepts, in key order."""

        async def listing(client: Any) -> list[S3Object]:
            found: list[S3Object] = []
            paginator = client.get_paginator("list_objects_v2")
            async for response in paginator.paginate(Bucket=self.config.bucket, Prefix=prefix):
                wanted = (_wanted(item, keep) for item in response.get("Contents", ()))
                found.extend(obj for obj in wanted if obj is not None)
            return found

        objects = self._call(listing, "list")
        objects.sort(key=lambda o: o.key)
        return objects

    def first_object(self, prefix: str, keep: Callable[[str], bool]) -> S3Object | None:
        """The first object (in key order) ``list_objects`` would return, listing no further."""

        async def first(client: Any) -> S3Object | None:
            paginator = client.get_paginator("list_objects_v2")
            async for response in paginator.paginate(Bucket=self.config.bucket, Prefix=prefix):
                for item in response.get("Contents", ()):
                    if (obj := _wanted(item, keep)) is not None:
                        return obj
            return None

        return self._call(first, "list")

    def download(
        self, key: str, into: BinaryIO, *, etag: str | None = None, byte_range: str | None = None
    ) -> bool:
        """Stream object ``key`` into ``into`` (``_CHUNK`` bytes at a time). False when the
        object is gone or, with ``etag``, no longer has that ETag."""
        args: dict[str, Any] = {"Bucket": self.config.bucket, "Key": key}
        if etag:
            args["IfMatch"] = etag
        if byte_range:
            args["Range"] = byte_range

        async def fetch(client: Any) -> bool:
            try:
                response = await client.get_object(**args)
            except Exception as exc:
                # HeadObject-style answers carry the status as the code, or no code at all.
                if (error_code(exc) or str(error_status(exc))) in _GONE:
                    return False
                raise
            async with response["Body"] as body:
                while chunk := await body.read(_CHUNK):
                    into.write(chunk)
            return True

        return self._call(fetch, "get")
