"""A real S3 API on 127.0.0.1, for tests: moto's server mode, spoken to over HTTP.

::

    with S3Server() as s3:
        s3.create_bucket("data")
        s3.put_object("data", "a.csv", b"id\\n1\\n")
        options = {"bucket": "data", "endpoint_url": s3.url, **s3.credential_refs()}

The server accepts any credentials unless ``require_auth()`` is on (then only keys that
exist in moto's IAM pass, so the fixed test keys are refused: how tests see "access
denied"). Moto keeps its state per process, not per server, so starting a server resets
it. Test clients get the credentials as explicit arguments: nothing here reads or changes
``AWS_*`` environment variables. moto and botocore come from the workspace's dev
dependencies and are imported when a server starts.
"""

from __future__ import annotations

import importlib
import logging
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from hakiri.testing._server import Serving
from hakiri.testing.net import free_port

__all__ = ["ACCESS_KEY_ID", "REGION", "SECRET_ACCESS_KEY", "S3Server"]

ACCESS_KEY_ID = "hakiri-test-key-id"
SECRET_ACCESS_KEY = "hakiri-test-secret-key"
REGION = "us-east-1"


class S3Server(Serving):
    """moto's S3 on a free 127.0.0.1 port, with a botocore client for test setup."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._server: Any = None
        self._client: Any = None
        self._buckets = 0

    # -- lifecycle --------------------------------------------------------------------------

    def start(self) -> S3Server:
        from moto.server import ThreadedMotoServer

        # One log line per request on stderr is noise in a test's output.
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        server.start()
        self._server = server
        self._post("/moto-api/reset", b"")
        return self

    def stop(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
        if self._server is not None:
            try:
                self._post("/moto-api/reset-auth", b"inf")
            finally:
                self._server.stop()
                # moto stops serving but leaves the listening socket open; close it.
                inner = getattr(self._server, "_server", None)
                if inner is not None:
                    inner.server_close()
                self._server = None

    def _post(self, path: str, body: bytes) -> None:
        # Not form-encoded: Flask would parse the body away from ``request.data``.
        request = urllib.request.Request(
            f"{self.url}{path}",
            data=body,
            method="POST",
            headers={"Content-Type": "application/octet-stream"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            response.read()

    # -- what a connector needs -------------------------------------------------------------

    @staticmethod
    def secrets() -> dict[str, str]:
        """Secret values for ``credential_refs()`` (a host's secrets, or a subprocess's env)."""
        return {"S3_ACCESS_KEY_ID": ACCESS_KEY_ID, "S3_SECRET_ACCESS_KEY": SECRET_ACCESS_KEY}

    @staticmethod
    def credential_refs() -> dict[str, str]:
        """The s3 connector's credential options, as references to ``secrets()``."""
        return {
            "access_key_id": "secret://S3_ACCESS_KEY_ID",
            "secret_access_key": "secret://S3_SECRET_ACCESS_KEY",
        }

    @contextmanager
    def require_auth(self) -> Iterator[None]:
        """Within the block, requests must carry credentials moto's IAM knows (none do)."""
        self._post("/moto-api/reset-auth", b"0")
        try:
            yield
        finally:
            self._post("/moto-api/reset-auth", b"inf")

    # -- setting up data --------------------------------------------------------------------

    @property
    def client(self) -> Any:
        """A botocore S3 client with the fixed test credentials (path-style addressing)."""
        if self._client is None:
            # Through importlib: botocore ships no type information.
            botocore_config = importlib.import_module("botocore.config")
            botocore_session = importlib.import_module("botocore.session")
            session = botocore_session.Session()
            self._client = session.create_client(
                "s3",
                region_name=REGION,
                endpoint_url=self.url,
                aws_access_key_id=ACCESS_KEY_ID,
                aws_secret_access_key=SECRET_ACCESS_KEY,
                config=botocore_config.Config(s3={"addressing_style": "path"}),
            )
        return self._client

    def create_bucket(self, bucket: str) -> None:
        self.client.create_bucket(Bucket=bucket)

    def new_bucket(self, prefix: str = "test") -> str:
        """Create a bucket with a fresh name and return the name."""
        self._buckets += 1
        bucket = f"{prefix}-{self.port}-{self._buckets}"
        self.create_bucket(bucket)
        return bucket

    def put_object(self, bucket: str, key: str, body: bytes) -> str:
        """Store ``body`` at ``key``; returns its ETag."""
        etag: str = self.client.put_object(Bucket=bucket, Key=key, Body=body)["ETag"]
        return etag

    def delete_object(self, bucket: str, key: str) -> None:
        self.client.delete_object(Bucket=bucket, Key=key)

    def keys(self, bucket: str, prefix: str = "") -> list[str]:
        """Every key of ``bucket`` under ``prefix``, in order."""
        keys: list[str] = []
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
            keys.extend(item["Key"] for item in page.get("Contents", ()))
        return keys

    def empty_bucket(self, bucket: str) -> None:
        """Delete every object of ``bucket``."""
        for key in self.keys(bucket):
            self.delete_object(bucket, key)
