"""A synchronous S3 client over aiobotocore, for the synchronous Source API.

aiobotocore runs on an event loop this client owns (anyio's blocking portal: a thread with
a loop), started on first use and stopped by ``close()``. Every method may be called from
any thread but the portal's own: the run's prefetch thread reads while the main thread
plans. Credentials are resolved through the host's secrets when the client is built and are
kept only by botocore; messages name the bucket and endpoint, never a credential.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, BinaryIO

from hakiri.connectors.s3._aiobotocore import import_module
from hakiri.connectors.s3.config import S3SourceConfig
from hakiri.core.closing import Closing
from hakiri.core.errors import HakiriError, SourceError, SourceUnreachable
from hakiri.core.ports import SecretResolver

__all__ = ["S3Client", "S3Object"]

_CHUNK = 1 << 20
_DENIED = {
    "AccessDenied",
    "AllAccessDisabled",
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "ExpiredToken",
    "InvalidToken",
    "TokenRefreshRequired",
    "403",
}
_GONE = {"NoSuchKey", "PreconditionFailed", "404", "412"}


@dataclass(frozen=True, slots=True)
class S3Object:
    key: str
    etag: str
    size: int


def _secret(resolver: SecretResolver, reference: str | None) -> str | None:
    if reference is None:
        return None
    return resolver.resolve(reference.removeprefix("secret://"))


class S3Client(Closing):
    """ListObjectsV2 and GetObject on one bucket, as blocking calls."""

    def __init__(self, config: S3SourceConfig, secrets: SecretResolver) -> None:
        self.config = config
        self._secrets = secrets
        self._lock = threading.Lock()
        self._portal_cm: AbstractContextManager[Any] | None = None
        self._portal: Any = None
        self._client_cm: AbstractContextManager[Any] | None = None
        self._client: Any = None

    @property
    def where(self) -> str:
        """The bucket and endpoint, for messages."""
        endpoint = self.config.endpoint_url or "AWS S3"
        return f"bucket {self.config.bucket!r} at {endpoint}"

    # -- lifecycle --------------------------------------------------------------------------

    def _started(self) -> tuple[Any, Any]:
        with self._lock:
            if self._client is None:
                self._start()
            return self._portal, self._client

    def _start(self) -> None:
        from_thread = import_module("anyio.from_thread")
        session_module = import_module("aiobotocore.session")
        aio_config = import_module("aiobotocore.config")
        config = self.config
        options: dict[str, Any] = {
            "retries": {"max_attempts": config.max_attempts, "mode": "standard"},
            "connect_timeout": config.timeout,
            "read_timeout": config.timeout,
            "s3": {"addressing_style": config.addressing_style},
        }
        if config.anonymous:
            options["signature_version"] = import_module("botocore").UNSIGNED
        region = config.region
        if region is None and config.endpoint_url is not None:
            region = "us-east-1"  # self-hosted services ignore it, but signing needs one
        portal_cm: AbstractContextManager[Any] = from_thread.start_blocking_portal()
        portal = portal_cm.__enter__()
        try:
            session = session_module.get_session()
            creating = session.create_client(
                "s3",
                region_name=region,
                endpoint_url=config.endpoint_url,
                aws_access_key_id=_secret(self._secrets, config.access_key_id),
                aws_secret_access_key=_secret(self._secrets, config.secret_access_key),
                aws_session_token=_secret(self._secrets, config.session_token),
                config=aio_config.AioConfig(**options),
            )
            client_cm: AbstractContextManager[Any] = portal.wrap_async_context_manager(creating)
            self._client = self._translated(client_cm.__enter__, "connect")
        except BaseException:
            portal_cm.__exit__(None, None, None)
            raise
        self._portal_cm, self._portal, self._client_cm = portal_cm, portal, client_cm

    def close(self) -> None:
        with self._lock:
            client_cm, portal_cm = self._client_cm, self._portal_cm
            self._client_cm = self._portal_cm = self._portal = self._client = None
        try:
            if client_cm is not None:
                client_cm.__exit__(None, None, None)
        finally:
            if portal_cm is not None:
                portal_cm.__exit__(None, None, None)

    # -- calls ------------------------------------------------------------------------------

    def list_objects(self, prefix: str, keep: Callable[[str], bool]) -> list[S3Object]:
        """Every object under ``prefix`` whose key ``keep`` accepts, in key order."""
        portal, client = self._started()

        async def listing() -> list[S3Object]:
            found: list[S3Object] = []
            paginator = client.get_paginator("list_objects_v2")
            async for response in paginator.paginate(Bucket=self.config.bucket, Prefix=prefix):
                found.extend(
                    S3Object(item["Key"], item.get("ETag", ""), int(item.get("Size", 0)))
                    for item in response.get("Contents", ())
                    if keep(item["Key"]) and not item["Key"].endswith("/")
                )
            return found

        objects: list[S3Object] = self._translated(lambda: portal.call(listing), "list")
        objects.sort(key=lambda o: o.key)
        return objects

    def first_object(self, prefix: str, keep: Callable[[str], bool]) -> S3Object | None:
        """The first object (in key order) ``list_objects`` would return, listing no further."""
        portal, client = self._started()

        async def first() -> S3Object | None:
            paginator = client.get_paginator("list_objects_v2")
            async for response in paginator.paginate(Bucket=self.config.bucket, Prefix=prefix):
                for item in response.get("Contents", ()):
                    if keep(item["Key"]) and not item["Key"].endswith("/"):
                        return S3Object(item["Key"], item.get("ETag", ""), int(item["Size"]))
            return None

        found: S3Object | None = self._translated(lambda: portal.call(first), "list")
        return found

    def download(
        self, key: str, into: BinaryIO, *, etag: str | None = None, byte_range: str | None = None
    ) -> bool:
        """Stream object ``key`` into ``into`` (``_CHUNK`` bytes at a time). False when the
        object is gone or, with ``etag``, no longer has that ETag."""
        portal, client = self._started()
        args: dict[str, Any] = {"Bucket": self.config.bucket, "Key": key}
        if etag:
            args["IfMatch"] = etag
        if byte_range:
            args["Range"] = byte_range

        async def fetch() -> bool:
            try:
                response = await client.get_object(**args)
            except Exception as exc:
                if _code(exc) in _GONE:
                    return False
                raise
            async with response["Body"] as body:
                while chunk := await body.read(_CHUNK):
                    into.write(chunk)
            return True

        ok: bool = self._translated(lambda: portal.call(fetch), "get")
        return ok

    # -- errors -----------------------------------------------------------------------------

    def _translated(self, call: Callable[[], Any], operation: str) -> Any:
        """``call()``, with botocore's errors as one clear ``SourceError`` line."""
        try:
            return call()
        except HakiriError:
            raise
        except Exception as exc:
            raise self._error(exc, operation) from None

    def _error(self, exc: Exception, operation: str) -> Exception:
        exceptions = import_module("botocore.exceptions")
        where = self.where
        if isinstance(exc, exceptions.NoCredentialsError | exceptions.PartialCredentialsError):
            return SourceError(
                f"no credentials for {where}",
                hint="set access_key_id / secret_access_key (secret://NAME references), or "
                "anonymous = true for a public bucket",
            )
        unreachable = (
            exceptions.EndpointConnectionError,
            exceptions.ConnectTimeoutError,
            exceptions.ReadTimeoutError,
            exceptions.ConnectionClosedError,
        )
        if isinstance(exc, unreachable):
            return SourceUnreachable(
                f"cannot reach {where}: {_reason(exc)}",
                hint="check endpoint_url / region and the network",
            )
        if isinstance(exc, exceptions.ClientError):
            code = _code(exc)
            if code in ("NoSuchBucket", "404") and operation == "list":
                return SourceError(
                    f"{where} does not exist",
                    hint="check bucket (and region / endpoint_url)",
                )
            if code in _DENIED:
                return SourceError(
                    f"access to {where} was denied ({code})",
                    hint="check the access_key_id / secret_access_key secrets and the "
                    "bucket's policy (s3:ListBucket and s3:GetObject are needed)",
                )
            return SourceError(f"S3 {operation} on {where} failed: {code}: {_reason(exc)}")
        if isinstance(exc, OSError):
            return SourceUnreachable(
                f"cannot talk to {where}: {_reason(exc)}",
                hint="check endpoint_url / region and the network",
            )
        if isinstance(exc, exceptions.BotoCoreError):
            return SourceError(
                f"S3 {operation} on {where} failed: {_reason(exc)}",
                hint="check the s3 options and the AWS configuration (profile, region)",
            )
        return exc


def _code(exc: BaseException) -> str:
    response = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return ""
    error = response.get("Error") or {}
    code = error.get("Code") or response.get("ResponseMetadata", {}).get("HTTPStatusCode", "")
    return str(code)


def _reason(exc: BaseException) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        message = (response.get("Error") or {}).get("Message")
        if message:
            return " ".join(str(message).split())
    return " ".join(str(exc).split()) or type(exc).__name__
