"""An object store in an S3 bucket (AWS S3, Cloudflare R2, MinIO, Ceph, moto), optionally
under a key prefix.

How each guarantee is kept (docs/object-store.md says more):

- **put_if_absent** sends ``If-None-Match: *``, **put_if_match** ``If-Match: "<etag>"``,
  **delete(if_match=…)** ``If-Match``; the service decides, and answers 412 to the losers
  (→ ``PreconditionFailed``). AWS may answer 409 ConditionalRequestConflict while another
  conditional write of the key is in flight: the request is retried a bounded number of
  times, and then usually loses with a 412.
- **Large bodies** (more than one ``part_size``) go up as a multipart upload, one part in
  memory at a time; the condition is sent with CompleteMultipartUpload, and an upload that
  fails or loses is aborted so no parts are left behind.
- **Streaming reads**: ``open`` keeps GetObject's body open and reads it piece by piece.
"""

from __future__ import annotations

import random
import time
from collections.abc import Awaitable, Callable, Iterator
from datetime import datetime
from typing import Any, Literal, TypeVar

from hakiri.core.closing import Closing
from hakiri.core.errors import (
    ConfigError,
    HakiriError,
    ObjectNotFound,
    PreconditionFailed,
    StoreDenied,
    StoreError,
    StoreUnreachable,
    StoreUnwritable,
)
from hakiri.core.objectstore._body import BodyFailed, chunks_of, parts_of
from hakiri.core.objectstore._keys import check_key, check_prefix, plain_etag
from hakiri.core.objectstore._reader import ObjectReaderBase
from hakiri.core.objectstore.s3client import (
    FailureKind,
    S3Handle,
    S3Settings,
    classify,
    error_code,
    error_status,
)
from hakiri.core.ports import ObjectData, ObjectInfo, PutBody, PutResult

__all__ = ["S3ObjectStore"]

T = TypeVar("T")

MIN_PART_SIZE = 5 << 20
"""S3's smallest part (but the last) of a multipart upload."""
_MAX_PARTS = 10_000
_Missing = Literal["not_found", "gone"]


class S3ObjectStore(Closing):
    """Objects in ``bucket`` under ``prefix`` (keys are relative to it)."""

    def __init__(
        self,
        bucket: str,
        *,
        prefix: str = "",
        endpoint_url: str | None = None,
        region: str | None = None,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        session_token: str | None = None,
        addressing_style: Literal["auto", "path", "virtual"] = "auto",
        part_size: int = 8 << 20,
        list_page_size: int = 1000,
        conflict_retries: int = 5,
        max_attempts: int = 5,
        timeout: float = 60.0,
        max_pool_connections: int = 32,
    ) -> None:
        if not bucket:
            raise ConfigError("an S3 object store needs a bucket name")
        if part_size < MIN_PART_SIZE:
            raise ConfigError(
                f"part_size {part_size} is below S3's minimum part of {MIN_PART_SIZE} bytes"
            )
        if not 1 <= list_page_size <= 1000:
            raise ConfigError(f"list_page_size {list_page_size} is not within 1..1000")
        check_prefix(prefix)
        self.prefix = prefix if prefix == "" or prefix.endswith("/") else f"{prefix}/"
        self.part_size = part_size
        self.list_page_size = list_page_size
        self.conflict_retries = conflict_retries
        self.settings = S3Settings(
            bucket=bucket,
            endpoint_url=endpoint_url,
            region=region,
            access_key_id=access_key_id,
            secret_access_key=secret_access_key,
            session_token=session_token,
            addressing_style=addressing_style,
            max_attempts=max_attempts,
            timeout=timeout,
            max_pool_connections=max_pool_connections,
        )
        self._handle = S3Handle(self.settings)

    @property
    def url(self) -> str:
        return f"s3://{self.settings.bucket}/{self.prefix}"

    @property
    def client_config(self) -> Any:
        """The botocore config of the client (its checksum settings, pool, retries)."""
        return self._handle.client_config

    def close(self) -> None:
        self._handle.close()

    # -- writes -----------------------------------------------------------------------------

    def put(self, key: str, body: PutBody) -> PutResult:
        return self._put(key, body, {})

    def put_if_absent(self, key: str, body: PutBody) -> PutResult:
        return self._put(key, body, {"IfNoneMatch": "*"})

    def put_if_match(self, key: str, body: PutBody, etag: str) -> PutResult:
        return self._put(key, body, {"IfMatch": _quoted(etag)})

    def _put(self, key: str, body: PutBody, condition: dict[str, str]) -> PutResult:
        check_key(key)
        parts = parts_of(chunks_of(body), self.part_size)
        try:
            # In a list, so that the multipart upload can let go of the first part once sent.
            first = [next(parts, b"")]
            if len(first[0]) < self.part_size:
                return self._put_single(key, first.pop(), condition)
            return self._put_multipart(key, _then(first, parts), condition)
        except BodyFailed as exc:
            raise exc.original from None

    def _put_single(self, key: str, data: bytes, condition: dict[str, str]) -> PutResult:
        args = {"Bucket": self.settings.bucket, "Key": self._full(key), "Body": data}

        async def put(client: Any) -> Any:
            return await client.put_object(**args, **condition)

        response = self._call(put, f"put {key!r}", key, condition=condition, missing="gone")
        return PutResult(key=key, size=len(data), etag=plain_etag(response["ETag"]))

    def _put_multipart(
        self, key: str, parts: Iterator[bytes], condition: dict[str, str]
    ) -> PutResult:
        where = {"Bucket": self.settings.bucket, "Key": self._full(key)}

        async def create(client: Any) -> Any:
            return await client.create_multipart_upload(**where)

        upload_id = self._call(create, f"upload {key!r}", key)["UploadId"]
        try:
            done, size = self._upload_parts(key, parts, {**where, "UploadId": upload_id})

            async def complete(client: Any) -> Any:
                return await client.complete_multipart_upload(
                    **where, UploadId=upload_id, MultipartUpload={"Parts": done}, **condition
                )

            response = self._call(
                complete, f"put {key!r}", key, condition=condition, missing="gone"
            )
        except BaseException:
            self._abort(where, upload_id)
            raise
        return PutResult(key=key, size=size, etag=plain_etag(response["ETag"]))

    def _upload_parts(
        self, key: str, parts: Iterator[bytes], upload: dict[str, str]
    ) -> tuple[list[dict[str, Any]], int]:
        done: list[dict[str, Any]] = []
        size = 0
        for number, part in enumerate(parts, start=1):
            if number > _MAX_PARTS:
                raise StoreError(
                    f"{key!r} is larger than {_MAX_PARTS} parts of {self.part_size} bytes",
                    hint="raise the store's part_size",
                )
            done.append({"PartNumber": number, "ETag": self._send(key, upload, number, part)})
            size += len(part)
            del part  # not alive while the next part is gathered
        return done, size

    def _send(self, key: str, upload: dict[str, str], number: int, part: bytes) -> str:
        async def send(client: Any) -> Any:
            return await client.upload_part(**upload, PartNumber=number, Body=part)

        etag: str = self._call(send, f"upload {key!r}", key)["ETag"]
        return etag

    def _abort(self, where: dict[str, str], upload_id: str) -> None:
        async def abort(client: Any) -> Any:
            return await client.abort_multipart_upload(**where, UploadId=upload_id)

        try:
            self._handle.call(abort)
        except Exception:
            pass  # the upload's own error is the one to report; a lifecycle rule sweeps it

    def delete(self, key: str, *, if_match: str | None = None) -> None:
        check_key(key)
        condition = {} if if_match is None else {"IfMatch": _quoted(if_match)}
        args = {"Bucket": self.settings.bucket, "Key": self._full(key), **condition}

        async def delete(client: Any) -> Any:
            return await client.delete_object(**args)

        if if_match is not None:
            self._call(delete, f"delete {key!r}", key, condition=condition, missing="gone")
            return
        try:
            self._call(delete, f"delete {key!r}", key)
        except ObjectNotFound:
            pass  # S3 answers 204 for a missing key; some compatible services answer 404

    # -- reads ------------------------------------------------------------------------------

    def head(self, key: str) -> ObjectInfo:
        check_key(key)
        args = {"Bucket": self.settings.bucket, "Key": self._full(key)}

        async def head(client: Any) -> Any:
            return await client.head_object(**args)

        return _info(key, self._call(head, f"head {key!r}", key))

    def get(self, key: str) -> ObjectData:
        check_key(key)
        args = {"Bucket": self.settings.bucket, "Key": self._full(key)}

        async def get(client: Any) -> tuple[Any, bytes]:
            response = await client.get_object(**args)
            async with response["Body"] as body:
                return response, await body.read()

        response, data = self._call(get, f"get {key!r}", key)
        return ObjectData(info=_info(key, response), data=data)

    def open(self, key: str) -> _S3Reader:
        check_key(key)
        args = {"Bucket": self.settings.bucket, "Key": self._full(key)}

        async def start(client: Any) -> Any:
            return await client.get_object(**args)

        response = self._call(start, f"get {key!r}", key)
        return _S3Reader(self, key, response["Body"], _info(key, response))

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        check_prefix(prefix)
        args: dict[str, Any] = {
            "Bucket": self.settings.bucket,
            "Prefix": self.prefix + prefix,
            "MaxKeys": self.list_page_size,
        }
        while True:

            async def page(client: Any, args: dict[str, Any] = args) -> Any:
                return await client.list_objects_v2(**args)

            response = self._call(page, f"list {prefix!r}", None)
            for item in response.get("Contents", ()):
                full: str = item["Key"]
                if full.endswith("/"):
                    continue  # a console's "folder" marker, not an object
                yield ObjectInfo(
                    key=full[len(self.prefix) :],
                    size=int(item.get("Size", 0)),
                    etag=plain_etag(item.get("ETag", "")),
                    last_modified=item["LastModified"],
                )
            token = response.get("NextContinuationToken")
            if not response.get("IsTruncated") or not token:
                return
            args = {**args, "ContinuationToken": token}

    # -- calls and their errors -------------------------------------------------------------

    def _full(self, key: str) -> str:
        return self.prefix + key

    def _call(
        self,
        make: Callable[[Any], Awaitable[T]],
        operation: str,
        key: str | None,
        *,
        condition: dict[str, str] | None = None,
        missing: _Missing = "not_found",
    ) -> T:
        """``make(client)`` with botocore's errors as store errors; a conditional request
        answered 409 ConditionalRequestConflict is sent again, a bounded number of times."""
        for attempt in range(self.conflict_retries + 1):
            try:
                return self._handle.call(make)
            except HakiriError:
                raise
            except Exception as exc:
                status = error_status(exc)
                if condition and status == 409 and attempt < self.conflict_retries:
                    time.sleep(0.05 * 2**attempt * (1 + random.random()))
                    continue
                raise self._error(exc, operation, key, condition, missing) from None
        raise AssertionError("unreachable")  # pragma: no cover

    def _error(
        self,
        exc: Exception,
        operation: str,
        key: str | None,
        condition: dict[str, str] | None,
        missing: _Missing,
    ) -> BaseException:
        status, code = error_status(exc), error_code(exc)
        where = self.url
        if key is not None and (status == 404 or code in ("NoSuchKey", "NotFound")):
            if code not in ("NoSuchBucket", "NoSuchUpload"):
                if missing == "gone":
                    return PreconditionFailed(
                        f"{key!r} no longer exists in {where}: the version named is gone; "
                        "nothing was changed",
                        hint="read the store again and decide (put_if_absent creates it anew)",
                        key=key,
                    )
                return ObjectNotFound(
                    f"no object {key!r} in {where}", hint="check the key (list the store)", key=key
                )
        if condition and (status == 412 or code == "PreconditionFailed"):
            return _lost(key or "", where, condition)
        if condition and status == 409:
            return StoreError(
                f"{operation} in {where} kept conflicting with other conditional writes "
                f"({self.conflict_retries + 1} attempts)",
                hint="try again; many writers are racing for this key",
            )
        return _store_error(exc, self.settings, operation)


_KINDS: dict[FailureKind, tuple[type[StoreError], str | None]] = {
    "no_credentials": (
        StoreDenied,
        "pass access_key_id / secret_access_key, or set AWS_ACCESS_KEY_ID and "
        "AWS_SECRET_ACCESS_KEY (or an AWS profile)",
    ),
    "unreachable": (StoreUnreachable, "check the endpoint URL / region and the network"),
    "denied": (
        StoreDenied,
        "check the credentials and the bucket's policy (s3:ListBucket, s3:GetObject, "
        "s3:PutObject and s3:DeleteObject are needed)",
    ),
    "no_bucket": (StoreError, "check the bucket name (and region / endpoint URL)"),
    "unsupported": (
        StoreError,
        "use an S3-compatible service that implements conditional requests",
    ),
    "refused": (StoreError, None),
    "botocore": (
        StoreError,
        "check the store's S3 settings and the AWS configuration (profile, region)",
    ),
}
_WRITES = ("put", "delete", "upload")


def _store_error(exc: Exception, settings: S3Settings, operation: str) -> BaseException:
    """One ``StoreError`` line for a botocore error; anything else passes through."""
    failure = classify(exc, settings, operation)
    if failure is None:
        return exc
    kind, hint = _KINDS[failure.kind]
    if failure.kind == "denied" and operation.startswith(_WRITES):
        kind = StoreUnwritable  # a store that can be read but not written
    return kind(failure.message, hint=hint)


def _lost(key: str, where: str, condition: dict[str, str]) -> PreconditionFailed:
    if "IfNoneMatch" in condition:
        return PreconditionFailed(
            f"{key!r} already exists in {where}: someone else created it first; nothing was "
            "written",
            hint="read the existing object, or write with put_if_match / put",
            key=key,
        )
    etag = plain_etag(condition.get("IfMatch", ""))
    return PreconditionFailed(
        f"{key!r} in {where} is no longer version {etag}: someone else wrote it first; "
        "nothing was written",
        hint="read the object again and retry with its new ETag",
        key=key,
    )


def _then(first: list[bytes], rest: Iterator[bytes]) -> Iterator[bytes]:
    while first:
        yield first.pop()
    yield from rest


def _quoted(etag: str) -> str:
    return f'"{plain_etag(etag)}"'


def _info(key: str, response: Any) -> ObjectInfo:
    modified: datetime = response["LastModified"]
    return ObjectInfo(
        key=key,
        size=int(response["ContentLength"]),
        etag=plain_etag(response["ETag"]),
        last_modified=modified,
    )


class _S3Reader(ObjectReaderBase):
    """GetObject's body, read on the store's loop piece by piece."""

    def __init__(self, store: S3ObjectStore, key: str, body: Any, info: ObjectInfo) -> None:
        super().__init__(info)
        self._store, self._key, self._body = store, key, body

    def _read_some(self, size: int) -> bytes:
        body = self._body

        async def read(client: Any) -> bytes:
            # aiohttp hands back what it has buffered; gather up to ``size``.
            got = bytearray()
            while len(got) < size:
                chunk = await body.read(size - len(got))
                if not chunk:
                    break
                got += chunk
            return bytes(got)

        return self._store._call(read, f"get {self._key!r}", self._key)

    def _release(self) -> None:
        body = self._body

        async def close(client: Any) -> None:
            await body.aclose()

        try:
            self._store._handle.call(close)
        except Exception:
            pass  # the store was closed first: its loop took the connection down with it
