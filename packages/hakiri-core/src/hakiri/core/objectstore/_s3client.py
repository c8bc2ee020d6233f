"""A synchronous handle on an aiobotocore S3 client, and botocore's errors in one line.

aiobotocore runs on an event loop this handle owns (anyio's blocking portal: a thread with
a loop), started on first use and stopped by ``close()``. ``call`` may be used from any
thread but the portal's own, by many threads at once. Credentials are passed in or found
by botocore (environment, profile, instance role); messages name the bucket and endpoint,
never a credential. botocore ≥ 1.36 adds checksums that R2, MinIO and Ceph reject, so
request checksums are sent and response checksums checked only where S3 requires them.
"""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from hakiri.core.closing import Closing
from hakiri.core.errors import (
    HakiriError,
    StoreDenied,
    StoreError,
    StoreUnreachable,
    StoreUnwritable,
)
from hakiri.core.objectstore._aiobotocore import import_module

__all__ = ["S3Handle", "S3Settings", "error_code", "error_status", "store_error"]

T = TypeVar("T")

_DENIED = frozenset(
    {
        "AccessDenied",
        "AllAccessDisabled",
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "ExpiredToken",
        "InvalidToken",
        "TokenRefreshRequired",
        "Forbidden",
        "403",
    }
)


@dataclass(frozen=True, slots=True)
class S3Settings:
    """Where a bucket is and how to talk to it. Credentials left None are found by botocore
    (``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY``, a profile, an instance role)."""

    bucket: str
    endpoint_url: str | None = None
    """For R2 (``https://<account>.r2.cloudflarestorage.com``), MinIO, Ceph, moto."""
    region: str | None = None
    access_key_id: str | None = field(default=None, repr=False)
    secret_access_key: str | None = field(default=None, repr=False)
    session_token: str | None = field(default=None, repr=False)
    addressing_style: Literal["auto", "path", "virtual"] = "auto"
    max_attempts: int = 5
    timeout: float = 60.0
    max_pool_connections: int = 32

    @property
    def where(self) -> str:
        """The bucket and endpoint, for messages."""
        return f"bucket {self.bucket!r} at {self.endpoint_url or 'AWS S3'}"


class S3Handle(Closing):
    """One aiobotocore S3 client on a portal thread, used through blocking calls."""

    def __init__(self, settings: S3Settings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._portal_cm: AbstractContextManager[Any] | None = None
        self._portal: Any = None
        self._client_cm: AbstractContextManager[Any] | None = None
        self._client: Any = None

    def call(self, make: Callable[[Any], Awaitable[T]]) -> T:
        """``await make(client)`` on the portal's loop; botocore's exceptions pass through
        (``store_error`` turns them into one line)."""
        portal, client = self._started()
        result: T = portal.call(make, client)
        return result

    @property
    def client_config(self) -> Any:
        """The botocore config the client was built with (starting it if needed)."""
        return self._started()[1].meta.config

    def _started(self) -> tuple[Any, Any]:
        with self._lock:
            if self._client is None:
                self._start()
            return self._portal, self._client

    def _start(self) -> None:
        from_thread = import_module("anyio.from_thread")
        session_module = import_module("aiobotocore.session")
        aio_config = import_module("aiobotocore.config")
        settings = self.settings
        config = aio_config.AioConfig(
            retries={"max_attempts": settings.max_attempts, "mode": "standard"},
            connect_timeout=settings.timeout,
            read_timeout=settings.timeout,
            max_pool_connections=settings.max_pool_connections,
            s3={"addressing_style": settings.addressing_style},
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        )
        region = settings.region
        if region is None and settings.endpoint_url is not None:
            region = "us-east-1"  # self-hosted services ignore it, but signing needs one
        portal_cm: AbstractContextManager[Any] = from_thread.start_blocking_portal()
        portal = portal_cm.__enter__()
        try:
            creating = session_module.get_session().create_client(
                "s3",
                region_name=region,
                endpoint_url=settings.endpoint_url,
                aws_access_key_id=settings.access_key_id,
                aws_secret_access_key=settings.secret_access_key,
                aws_session_token=settings.session_token,
                config=config,
            )
            client_cm: AbstractContextManager[Any] = portal.wrap_async_context_manager(creating)
            try:
                self._client = client_cm.__enter__()
            except HakiriError:
                raise
            except Exception as exc:
                raise store_error(exc, settings, "connect") from None
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


# -- errors -------------------------------------------------------------------------------------


def error_code(exc: BaseException) -> str:
    """S3's error code of a botocore ``ClientError`` ("" for anything else)."""
    response = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return ""
    return str((response.get("Error") or {}).get("Code") or "")


def error_status(exc: BaseException) -> int:
    """The HTTP status of a botocore ``ClientError`` (0 for anything else)."""
    response = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return 0
    status = response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    return int(status) if isinstance(status, int) else 0


def _reason(exc: BaseException) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        message = (response.get("Error") or {}).get("Message")
        if message:
            return " ".join(str(message).split())
    return " ".join(str(exc).split()) or type(exc).__name__


_WRITES = ("put", "delete", "upload")


def store_error(exc: BaseException, settings: S3Settings, operation: str) -> BaseException:
    """One clear ``StoreError`` line for a botocore error during ``operation`` (e.g.
    ``"put 'a/b'"``); anything that is not botocore's passes through unchanged."""
    exceptions = import_module("botocore.exceptions")
    where = settings.where
    if isinstance(exc, exceptions.NoCredentialsError | exceptions.PartialCredentialsError):
        return StoreDenied(
            f"no credentials for {where}",
            hint="pass access_key_id / secret_access_key, or set AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY (or an AWS profile)",
        )
    unreachable = (
        exceptions.EndpointConnectionError,
        exceptions.ConnectTimeoutError,
        exceptions.ReadTimeoutError,
        exceptions.ConnectionClosedError,
        exceptions.ResponseStreamingError,
    )
    if isinstance(exc, unreachable) or isinstance(exc, OSError):
        return StoreUnreachable(
            f"cannot reach {where} ({operation}): {_reason(exc)}",
            hint="check the endpoint URL / region and the network",
        )
    if isinstance(exc, exceptions.ClientError):
        return _client_error(exc, where, operation)
    if isinstance(exc, exceptions.BotoCoreError):
        return StoreError(
            f"S3 {operation} on {where} failed: {_reason(exc)}",
            hint="check the store's S3 settings and the AWS configuration (profile, region)",
        )
    return exc


def _client_error(exc: BaseException, where: str, operation: str) -> StoreError:
    code, status = error_code(exc), error_status(exc)
    if code in _DENIED or status == 403:
        kind = StoreUnwritable if operation.startswith(_WRITES) else StoreDenied
        return kind(
            f"access to {where} was denied ({operation}: {code or status})",
            hint="check the credentials and the bucket's policy (s3:ListBucket, s3:GetObject, "
            "s3:PutObject and s3:DeleteObject are needed)",
        )
    if code == "NoSuchBucket":
        return StoreError(
            f"{where} does not exist", hint="check the bucket name (and region / endpoint URL)"
        )
    if status == 501 or code == "NotImplemented":
        return StoreError(
            f"{where} does not support {operation}: {_reason(exc)}",
            hint="use an S3-compatible service that implements conditional requests",
        )
    return StoreError(f"S3 {operation} on {where} failed: {code or status}: {_reason(exc)}")
