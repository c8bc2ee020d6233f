"""A synchronous handle on an aiobotocore S3 client, and botocore's errors in one line.

Shared by the S3 object store and the s3 connector (and whatever else talks to a bucket):
aiobotocore runs on an event loop this handle owns (anyio's blocking portal: a thread with
a loop), started on first use and stopped by ``close()``. ``call`` may be used from any
thread but the portal's own, by many threads at once. Credentials are passed in or found
by botocore (environment, profile, instance role); messages name the bucket and endpoint,
never a credential. botocore ≥ 1.36 adds checksums that R2, MinIO and Ceph reject, so
request checksums are sent and response checksums checked only where S3 requires them.

``classify`` words a botocore error once; each user turns the ``S3Failure`` into its own
error type with a hint that names its own settings.
"""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from hakiri.core.closing import Closing
from hakiri.core.objectstore._aiobotocore import STORE_INSTALL, STORE_NEEDED_BY, import_module

__all__ = [
    "FailureKind",
    "S3Failure",
    "S3Handle",
    "S3Settings",
    "classify",
    "error_code",
    "error_status",
]

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
    (``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY``, a profile, an instance role), as are
    an endpoint and region left None (``AWS_ENDPOINT_URL``, ``AWS_REGION``, a profile)."""

    bucket: str
    endpoint_url: str | None = None
    """For R2 (``https://<account>.r2.cloudflarestorage.com``), MinIO, Ceph, moto."""
    region: str | None = None
    access_key_id: str | None = field(default=None, repr=False)
    secret_access_key: str | None = field(default=None, repr=False)
    session_token: str | None = field(default=None, repr=False)
    anonymous: bool = False
    """Send unsigned requests (a public bucket): no credentials are looked for."""
    addressing_style: Literal["auto", "path", "virtual"] = "auto"
    max_attempts: int = 5
    timeout: float = 60.0
    max_pool_connections: int = 32

    @property
    def where(self) -> str:
        """The bucket and endpoint, for messages."""
        return f"bucket {self.bucket!r} at {self.endpoint_url or 'AWS S3'}"


class S3Handle(Closing):
    """One aiobotocore S3 client on a portal thread, used through blocking calls.

    ``needed_by`` and ``install`` word the ``MissingDependency`` raised when the s3 extra
    is not installed (the connector's extra is not the store's)."""

    def __init__(
        self,
        settings: S3Settings,
        *,
        needed_by: str = STORE_NEEDED_BY,
        install: str = STORE_INSTALL,
    ) -> None:
        self.settings = settings
        self._needed_by, self._install = needed_by, install
        self._lock = threading.Lock()
        self._portal_cm: AbstractContextManager[Any] | None = None
        self._portal: Any = None
        self._client_cm: AbstractContextManager[Any] | None = None
        self._client: Any = None

    def call(self, make: Callable[[Any], Awaitable[T]]) -> T:
        """``await make(client)`` on the portal's loop. botocore's exceptions pass through,
        those of building the client included (``classify`` words them)."""
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

    def _module(self, name: str) -> Any:
        return import_module(name, needed_by=self._needed_by, install=self._install)

    def _config(self) -> Any:
        settings = self.settings
        options: dict[str, Any] = {
            "retries": {"max_attempts": settings.max_attempts, "mode": "standard"},
            "connect_timeout": settings.timeout,
            "read_timeout": settings.timeout,
            "max_pool_connections": settings.max_pool_connections,
            "s3": {"addressing_style": settings.addressing_style},
            "request_checksum_calculation": "when_required",
            "response_checksum_validation": "when_required",
        }
        if settings.anonymous:
            options["signature_version"] = self._module("botocore").UNSIGNED
        return self._module("aiobotocore.config").AioConfig(**options)

    def _start(self) -> None:
        from_thread = self._module("anyio.from_thread")
        session_module = self._module("aiobotocore.session")
        settings = self.settings
        config = self._config()
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
            self._client = client_cm.__enter__()
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


FailureKind = Literal[
    "no_credentials",  # none passed, none found by botocore
    "unreachable",  # network, endpoint, timeouts, a connection cut mid-body
    "denied",  # refused credentials or policy
    "no_bucket",
    "unsupported",  # the service does not implement the request (501)
    "refused",  # any other error answer of the service
    "botocore",  # botocore failed on its own side: configuration, profile, parameters
]


@dataclass(frozen=True, slots=True)
class S3Failure:
    """A botocore error as one line naming the bucket and endpoint, and its kind."""

    kind: FailureKind
    message: str


def classify(exc: BaseException, settings: S3Settings, operation: str) -> S3Failure | None:
    """What went wrong in a botocore error during ``operation`` (``"list"``, ``"put 'a/b'"``);
    None for an exception that is not botocore's (or an ``OSError``)."""
    exceptions = import_module("botocore.exceptions")
    where = settings.where
    if isinstance(exc, exceptions.NoCredentialsError | exceptions.PartialCredentialsError):
        return S3Failure("no_credentials", f"no credentials for {where}")
    unreachable = (
        exceptions.EndpointConnectionError,
        exceptions.ConnectTimeoutError,
        exceptions.ReadTimeoutError,
        exceptions.ConnectionClosedError,
        exceptions.ResponseStreamingError,
    )
    if isinstance(exc, unreachable) or isinstance(exc, OSError):
        return S3Failure("unreachable", f"cannot reach {where} ({operation}): {_reason(exc)}")
    if isinstance(exc, exceptions.ClientError):
        return _answered(exc, where, operation)
    if isinstance(exc, exceptions.BotoCoreError):
        return S3Failure("botocore", f"S3 {operation} on {where} failed: {_reason(exc)}")
    return None


def _answered(exc: BaseException, where: str, operation: str) -> S3Failure:
    code, status = error_code(exc), error_status(exc)
    if code in _DENIED or status == 403:
        return S3Failure("denied", f"access to {where} was denied ({operation}: {code or status})")
    # A listing answered 404 without an S3 error body (some proxies) can only mean the bucket.
    bare_list_404 = operation.startswith("list") and status == 404 and code in ("", "404")
    if code == "NoSuchBucket" or bare_list_404:
        return S3Failure("no_bucket", f"{where} does not exist")
    if status == 501 or code == "NotImplemented":
        return S3Failure("unsupported", f"{where} does not support {operation}: {_reason(exc)}")
    reason = _reason(exc)
    return S3Failure("refused", f"S3 {operation} on {where} failed: {code or status}: {reason}")
