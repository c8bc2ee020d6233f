"""The S3 object store against moto's S3 server: the conformance suite, plus what only S3
has (multipart uploads, key prefixes, endpoints, credentials, 409 conflicts)."""

from __future__ import annotations

import http.client
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

pytest.importorskip("aiobotocore", reason="the s3 extra of hakiri-core is not installed")
pytest.importorskip("moto", reason="moto (the test S3 server) is not installed")
pytest.importorskip("hakiri.testing", reason="hakiri-testing is not installed")

from hakiri.core.errors import (  # noqa: E402
    PreconditionFailed,
    StoreDenied,
    StoreError,
    StoreUnreachable,
    StoreUnwritable,
)
from hakiri.core.objectstore import S3ObjectStore  # noqa: E402
from hakiri.core.objectstore.testing import (  # noqa: E402
    ObjectStoreConformance,
    pattern_chunks,
    stream_large_object,
)
from hakiri.core.ports import ObjectStore  # noqa: E402
from hakiri.testing.net import free_port  # noqa: E402
from hakiri.testing.s3 import ACCESS_KEY_ID, REGION, SECRET_ACCESS_KEY, S3Server  # noqa: E402

MiB = 1 << 20


def _store(endpoint: str, bucket: str, **options: Any) -> S3ObjectStore:
    settings: dict[str, Any] = {
        "endpoint_url": endpoint,
        "region": REGION,
        "access_key_id": ACCESS_KEY_ID,
        "secret_access_key": SECRET_ACCESS_KEY,
        "addressing_style": "path",
        "part_size": 5 * MiB,
        "list_page_size": 50,  # the listing test's 245 keys come back in five pages
        **options,
    }
    return S3ObjectStore(bucket, **settings)


@pytest.fixture
def bucket(s3_server: S3Server) -> str:
    return s3_server.new_bucket("objects")


@pytest.fixture
def stores(s3_server: S3Server, bucket: str) -> Iterator[Callable[..., S3ObjectStore]]:
    """Open stores on ``bucket`` (closed after the test)."""
    opened: list[S3ObjectStore] = []

    def open_one(**options: Any) -> S3ObjectStore:
        opened.append(_store(s3_server.url, bucket, **options))
        return opened[-1]

    yield open_one
    for store in opened:
        store.close()


class TestS3ObjectStore(ObjectStoreConformance):
    measure_memory = False  # moto runs in this process: see test_streaming_holds_few_parts
    # moto 5.2 checks only If-None-Match on CompleteMultipartUpload (AWS checks If-Match too):
    # the store sends it, moto does not act on it.
    large_if_match = False

    @pytest.fixture
    def open_store(self, stores: Callable[..., S3ObjectStore]) -> Callable[[], ObjectStore]:
        return stores


def test_checksums_are_sent_only_where_s3_requires_them(
    stores: Callable[..., S3ObjectStore],
) -> None:
    config = stores().client_config
    assert config.request_checksum_calculation == "when_required"
    assert config.response_checksum_validation == "when_required"


def _uploads(s3: S3Server, bucket: str) -> list[Any]:
    uploads: list[Any] = s3.client.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
    return uploads


def test_failed_and_lost_multipart_uploads_are_aborted(
    s3_server: S3Server,
    bucket: str,
    stores: Callable[..., S3ObjectStore],
) -> None:
    store = stores()

    def failing() -> Iterator[bytes]:
        yield from pattern_chunks(12 * MiB)
        raise RuntimeError("the source went away")

    with pytest.raises(RuntimeError, match="went away"):
        store.put("big", failing())
    store.put_if_absent("big", pattern_chunks(11 * MiB, seed=b"first"))
    with pytest.raises(PreconditionFailed):
        store.put_if_absent("big", pattern_chunks(11 * MiB, seed=b"second"))
    assert _uploads(s3_server, bucket) == []
    assert s3_server.keys(bucket) == ["big"]
    assert store.head("big").etag.endswith("-3")  # 5 + 5 + 1 MiB: a three-part upload


def test_a_prefix_keeps_stores_apart(
    s3_server: S3Server,
    bucket: str,
    stores: Callable[..., S3ObjectStore],
) -> None:
    team_a, team_b = stores(prefix="teams/a"), stores(prefix="teams/b/")
    assert team_a.url == f"s3://{bucket}/teams/a/"
    team_a.put("manifest", b"a")
    team_b.put("manifest", b"b")
    team_b.put("data/1", b"b1")
    assert [info.key for info in team_a.list()] == ["manifest"]
    assert [info.key for info in team_b.list()] == ["data/1", "manifest"]
    assert team_a.get("manifest").data == b"a"
    assert s3_server.keys(bucket) == ["teams/a/manifest", "teams/b/data/1", "teams/b/manifest"]


def test_an_unreachable_endpoint_is_one_line() -> None:
    store = _store(f"http://127.0.0.1:{free_port()}", "nowhere", max_attempts=1, timeout=5)
    try:
        with pytest.raises(StoreUnreachable) as caught:
            store.head("key")
    finally:
        store.close()
    line = caught.value.one_line()
    assert caught.value.code == "store_unreachable" and "\n" not in line
    assert "nowhere" in line and caught.value.hint


def test_a_missing_bucket_is_named(s3_server: S3Server) -> None:
    store = _store(s3_server.url, "no-such-bucket")
    try:
        with pytest.raises(StoreError, match="does not exist") as caught:
            store.put("key", b"x")
        with pytest.raises(StoreError, match="does not exist"):
            list(store.list())
    finally:
        store.close()
    assert "no-such-bucket" in caught.value.one_line()


def test_refused_credentials_are_one_line(
    s3_server: S3Server,
    stores: Callable[..., S3ObjectStore],
) -> None:
    store = stores()
    store.put("key", b"x")
    with s3_server.require_auth():
        with pytest.raises(StoreUnwritable) as written:
            store.put("key", b"y")
        with pytest.raises(StoreDenied) as read:
            store.get("key")
        with pytest.raises(StoreDenied):
            list(store.list())
    for caught in (written, read):
        line = caught.value.one_line()
        assert "denied" in line and "\n" not in line and SECRET_ACCESS_KEY not in line
    assert store.get("key").data == b"x"


def test_the_etag_is_unquoted_everywhere(stores: Callable[..., S3ObjectStore]) -> None:
    store = stores()
    written = store.put("quoted", b"x")
    assert '"' not in written.etag
    assert store.head("quoted").etag == written.etag == next(store.list()).etag


# -- streaming without moto's memory in the way -------------------------------------------------


@pytest.fixture(scope="module")
def moto_process() -> Iterator[str]:
    """moto's S3 in a process of its own, so that this process's memory is the client's."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{url}/moto-api/", timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_streaming_holds_few_parts(moto_process: str) -> None:
    import botocore.session

    client = botocore.session.get_session().create_client(
        "s3",
        region_name=REGION,
        endpoint_url=moto_process,
        aws_access_key_id=ACCESS_KEY_ID,
        aws_secret_access_key=SECRET_ACCESS_KEY,
    )
    client.create_bucket(Bucket="streaming")
    client.close()
    store = _store(moto_process, "streaming")
    try:
        size = 40 * MiB
        peak = stream_large_object(store, size)
    finally:
        store.close()
    assert peak is not None
    # One 5 MiB part being built and one being sent, give or take a chunk: never the object.
    assert peak < 4 * store.part_size, f"{peak} bytes at once for a {size}-byte object"


# -- 409 ConditionalRequestConflict, as AWS answers racing conditional writes -------------------


class _ConflictingProxy(ThreadingHTTPServer):
    """Forwards to moto, but answers the first ``conflicts`` conditional writes with 409
    ConditionalRequestConflict, as S3 does while another conditional write is in flight."""

    daemon_threads = True

    def __init__(self, upstream: str, conflicts: int) -> None:
        super().__init__(("127.0.0.1", 0), _ProxyHandler)
        self.upstream = upstream.removeprefix("http://")
        self.conflicts = conflicts
        self.answered = 0
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def conflict_now(self) -> bool:
        with self.lock:
            if self.conflicts > 0:
                self.conflicts -= 1
                self.answered += 1
                return True
            return False


_CONFLICT = (
    b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>ConditionalRequestConflict</Code>'
    b"<Message>A conflicting conditional operation is currently in progress against this "
    b"resource. Please try again.</Message></Error>"
)


class _ProxyHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _ConflictingProxy

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _forward(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        conditional = "If-None-Match" in self.headers or "If-Match" in self.headers
        if self.command in ("PUT", "POST") and conditional and self.server.conflict_now():
            self._answer(409, {"Content-Type": "application/xml"}, _CONFLICT)
            return
        upstream = http.client.HTTPConnection(self.server.upstream, timeout=30)
        try:
            headers = {k: v for k, v in self.headers.items() if k.lower() != "expect"}
            upstream.request(self.command, self.path, body=body, headers=headers)
            response = upstream.getresponse()
            data = response.read()
            passed = {
                k: v
                for k, v in response.getheaders()
                if k.lower() not in ("transfer-encoding", "connection", "content-length")
            }
            # A HEAD's Content-Length is the object's, not that of the (empty) body.
            length = response.getheader("Content-Length") if self.command == "HEAD" else None
            self._answer(response.status, passed, data, length)
        finally:
            upstream.close()

    def _answer(
        self, status: int, headers: dict[str, str], body: bytes, length: str | None = None
    ) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", length or str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _forward


@pytest.fixture
def proxy(s3_server: S3Server) -> Iterator[_ConflictingProxy]:
    server = _ConflictingProxy(s3_server.url, conflicts=0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def test_a_conflicting_conditional_write_is_retried(proxy: _ConflictingProxy, bucket: str) -> None:
    store = _store(proxy.url, bucket, conflict_retries=3)
    try:
        proxy.conflicts = 2
        created = store.put_if_absent("manifest", b"v1")
        assert proxy.answered == 2
        proxy.conflicts = 3
        store.put_if_match("manifest", b"v2", created.etag)
        assert proxy.answered == 5 and store.get("manifest").data == b"v2"
        # A multipart upload's condition travels with CompleteMultipartUpload (a POST).
        proxy.conflicts = 1
        store.put_if_match("manifest", pattern_chunks(6 * MiB), store.head("manifest").etag)
        assert proxy.answered == 6 and store.head("manifest").size == 6 * MiB
        # Past the bound, the write fails with one line (and the object is left alone).
        proxy.conflicts = 10
        with pytest.raises(StoreError, match="kept conflicting") as caught:
            store.put_if_absent("other", b"x")
        assert "\n" not in caught.value.one_line()
        assert proxy.answered == 6 + 4
    finally:
        store.close()
