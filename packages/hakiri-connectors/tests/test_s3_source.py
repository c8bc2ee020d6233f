"""The s3 source against a real S3 API (moto's server on 127.0.0.1)."""

from __future__ import annotations

import gzip
import io
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from hakiri.connectors.s3 import S3SourceConfig, connector
from hakiri.connectors.s3.client import S3Client
from hakiri.connectors.s3.source import S3Source
from hakiri.core.cursor import CursorKind, JsonValue
from hakiri.core.errors import (
    ConfigError,
    MissingDependency,
    SecretError,
    SourceError,
    SourceUnreachable,
)
from hakiri.testing.host import TestHost
from hakiri.testing.s3 import ACCESS_KEY_ID, SECRET_ACCESS_KEY, S3Server
from hakiri.testing.sources import ReadResult, read_all


def _jsonl(ids: list[int]) -> bytes:
    return "".join(json.dumps({"id": i, "name": f"row {i}"}) + "\n" for i in ids).encode()


def _parquet(table: pa.Table) -> bytes:
    buffer = io.BytesIO()
    pq.write_table(table, buffer, compression="none")
    return buffer.getvalue()


@pytest.fixture
def s3_host(tmp_path: Path) -> TestHost:
    return TestHost(tmp_path, secrets=S3Server.secrets())


@pytest.fixture
def bucket(s3_server: S3Server) -> str:
    return s3_server.new_bucket()


@pytest.fixture
def options(s3_server: S3Server, bucket: str) -> dict[str, Any]:
    return {"bucket": bucket, "endpoint_url": s3_server.url, **s3_server.credential_refs()}


def _sources(host: TestHost, options: dict[str, Any]) -> Iterator[Any]:
    """A fixture's maker of sources on ``options`` (plus a test's own), closed afterwards."""
    made: list[S3Source] = []

    def make(**extra: Any) -> S3Source:
        source = connector.create({**options, **extra}, host)
        made.append(source)
        return source

    yield make
    for source in made:
        source.close()


@pytest.fixture
def make(s3_host: TestHost, options: dict[str, Any]) -> Iterator[Any]:
    yield from _sources(s3_host, options)


@pytest.fixture
def bare_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """No AWS configuration but what the test sets: no profile files, no instance role."""
    for name in [n for n in os.environ if n.startswith("AWS_") and n != "AWS_CA_BUNDLE"]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    return monkeypatch


@pytest.fixture
def make_bare(s3_host: TestHost, bucket: str, bare_env: pytest.MonkeyPatch) -> Iterator[Any]:
    """Sources of ``bucket`` whose options name no endpoint and no credentials."""
    yield from _sources(s3_host, {"bucket": bucket})


def _sweep(make: Any, cursor: JsonValue = None, **extra: Any) -> ReadResult:
    return read_all(make(**extra), cursor)


def _read_keys(result: ReadResult) -> list[str]:
    return [str(p.params["key"]) for p in result.pages if "key" in p.params]


# -- reading ------------------------------------------------------------------------------------


def test_every_format_one_page_per_object(
    s3_server: S3Server,
    bucket: str,
    make: Any,
) -> None:
    s3 = s3_server
    s3.put_object(bucket, "in/a.csv", b"id,name\n1,row 1\n2,row 2\n")
    s3.put_object(bucket, "in/b.jsonl.gz", gzip.compress(_jsonl([3, 4])))
    s3.put_object(bucket, "in/c.parquet", _parquet(pa.table({"id": [5], "name": ["row 5"]})))
    doc = {"data": [{"id": 6, "name": "row 6"}]}
    s3.put_object(bucket, "in/d.json", json.dumps(doc).encode())
    s3.put_object(bucket, "in/", b"")  # a "folder" marker is not an object to read
    result = _sweep(make, json={"records": "data"}, file_column="_key")
    assert _read_keys(result) == ["in/a.csv", "in/b.jsonl.gz", "in/c.parquet", "in/d.json"]
    assert [d.table.column("id").to_pylist() for d in result.data] == [[1, 2], [3, 4], [5], [6]]
    assert result.column("_key") == ["in/a.csv"] * 2 + ["in/b.jsonl.gz"] * 2 + [
        "in/c.parquet",
        "in/d.json",
    ]
    page = result.pages[0]
    assert page.params["etag"] and page.params["size"] == 24
    json.dumps([p.to_dict() for p in result.pages])
    assert result.plan.cursor_kind is CursorKind.KEYED
    # Each page reports its own object's ETag (the planned one).
    assert [d.cursor for d in result.data] == [
        {p.params["key"]: p.params["etag"]} for p in result.pages
    ]


def test_prefix_and_pattern(s3_server: S3Server, bucket: str, make: Any) -> None:
    for key in ["exports/2026/a.jsonl", "exports/2026/x/b.jsonl", "exports/c.csv", "other.jsonl"]:
        s3_server.put_object(bucket, key, _jsonl([1]))
    assert _read_keys(_sweep(make, prefix="exports/2026/")) == [
        "exports/2026/a.jsonl",
        "exports/2026/x/b.jsonl",
    ]
    assert _read_keys(_sweep(make, pattern="exports/*/*.jsonl")) == ["exports/2026/a.jsonl"]
    assert _read_keys(_sweep(make, pattern="**/*.jsonl")) == [
        "exports/2026/a.jsonl",
        "exports/2026/x/b.jsonl",
        "other.jsonl",
    ]
    assert _sweep(make, prefix="nothing/").pages == []


def test_incremental_by_etag(s3_server: S3Server, bucket: str, make: Any) -> None:
    s3 = s3_server
    s3.put_object(bucket, "a.jsonl", _jsonl([1, 2]))
    s3.put_object(bucket, "b.jsonl", _jsonl([3]))
    first = _sweep(make)
    assert sorted(first.column("id")) == [1, 2, 3]
    assert set(first.cursor) == {"a.jsonl", "b.jsonl"}

    unchanged = _sweep(make, first.cursor)
    assert unchanged.pages == [] and unchanged.cursor == first.cursor

    s3.put_object(bucket, "b.jsonl", _jsonl([3, 30]))
    s3.put_object(bucket, "c.jsonl", _jsonl([4]))
    second = _sweep(make, first.cursor)
    assert _read_keys(second) == ["b.jsonl", "c.jsonl"]
    assert sorted(second.column("id")) == [3, 4, 30]

    s3.delete_object(bucket, "a.jsonl")
    third = _sweep(make, second.cursor)
    assert third.rows == [] and set(third.cursor) == {"b.jsonl", "c.jsonl"}
    assert [(p.key, d.cursor) for p, d in zip(third.pages, third.data, strict=True)] == [
        ("index:0", {"a.jsonl": None})  # a tombstone on a small index page
    ]
    assert _sweep(make, third.cursor).pages == []


def test_pages_stay_small_however_many_objects(
    s3_server: S3Server,
    bucket: str,
    make: Any,
) -> None:
    where = "exports/events/region=eu-west-1/year=2026/month=03/day=01"
    keys = [f"{where}/part-{i:04d}.jsonl" for i in range(60)]
    for i, key in enumerate(keys):
        s3_server.put_object(bucket, key, _jsonl([i]))
    first = _sweep(make)
    assert len(first.cursor) == 60 and all(len(d.cursor) == 1 for d in first.data)
    for key in [keys[3], keys[30], keys[59]]:
        s3_server.put_object(bucket, key, _jsonl([-1]))
    gone = keys[5:55]  # keys[30] among them
    s3_server.client.delete_objects(
        Bucket=bucket, Delete={"Objects": [{"Key": k} for k in gone], "Quiet": True}
    )
    second = _sweep(make, first.cursor)
    assert _read_keys(second) == [keys[3], keys[59]]
    assert second.column("id") == [-1, -1]
    # The tombstones are spread over index pages of a few KiB each.
    index = [p for p in second.pages if p.key.startswith("index:")]
    assert len(index) >= 2 and sum(len(p.params["index"]) for p in index) == len(gone)
    for page in [*first.pages, *second.pages]:
        assert len(json.dumps(page.to_dict())) < 4 * 1024, page.key
    assert set(second.cursor) == set(keys) - set(gone)
    assert _sweep(make, second.cursor).pages == []


def test_an_object_changed_after_the_plan_is_left_for_the_next_run(
    s3_server: S3Server,
    bucket: str,
    make: Any,
) -> None:
    s3_server.put_object(bucket, "a.jsonl", _jsonl([1]))
    source = make()
    plan = source.plan(None)
    s3_server.put_object(bucket, "a.jsonl", _jsonl([1, 2]))
    data = source.read(plan.pages[0])
    assert data.table.num_rows == 0  # If-Match on the planned ETag failed
    assert read_all(source, data.cursor).column("id") == [1, 2]
    s3_server.delete_object(bucket, "a.jsonl")
    assert source.read(plan.pages[0]).table.num_rows == 0


def test_not_incremental_reads_everything(
    s3_server: S3Server,
    bucket: str,
    make: Any,
) -> None:
    s3_server.put_object(bucket, "a.jsonl", _jsonl([1]))
    first = _sweep(make, incremental=False)
    assert first.cursor is None
    assert _sweep(make, first.cursor, incremental=False).column("id") == [1]


# -- discover -----------------------------------------------------------------------------------


def test_discover_reads_a_large_parquet_objects_footer_only(
    s3_server: S3Server,
    bucket: str,
    make: Any,
) -> None:
    rows = 12_000
    table = pa.table({"id": list(range(rows)), "blob": [os.urandom(100) for _ in range(rows)]})
    body = _parquet(table)
    assert len(body) > 1 << 20  # larger than what discover would download whole
    s3_server.put_object(bucket, "big/part-1.parquet", body)
    s3_server.put_object(bucket, "big/part-2.parquet", b"not parquet, never opened")
    (stream,) = make(pattern="big/*.parquet").discover()
    assert stream.name == "big"
    assert stream.schema is not None
    assert [(f.name, f.type) for f in stream.schema.fields] == [("id", "int64"), ("blob", "binary")]


def test_discover_reads_a_large_csv_objects_first_block(
    s3_server: S3Server,
    bucket: str,
    make: Any,
) -> None:
    lines = "".join(f"{i},name {i},{i * 1.5}\n" for i in range(60_000))
    body = ("id,name,score\n" + lines).encode()
    assert len(body) > 1 << 20
    s3_server.put_object(bucket, "people.csv", body)
    (stream,) = make(stream="people", file_column="_file").discover()
    assert stream.name == "people"
    assert stream.schema is not None
    assert [(f.name, f.type) for f in stream.schema.fields] == [
        ("id", "int64"),
        ("name", "string"),
        ("score", "double"),
        ("_file", "string"),
    ]


def test_discover_an_empty_bucket(make: Any, bucket: str) -> None:
    (stream,) = make().discover()
    assert stream.schema is None
    assert stream.name == bucket.replace("-", "_")


# -- the client: hakiri-core's, credentials from the host or botocore's chain -------------------


def test_checksums_are_sent_only_where_s3_requires_them(
    s3_host: TestHost, options: dict[str, Any]
) -> None:
    # The store's client, so R2 and MinIO (which refuse botocore's default checksums) work.
    config = S3SourceConfig.model_validate(options)
    with S3Client(config, s3_host.secrets) as client:
        botocore_config = client.client_config
    assert botocore_config.request_checksum_calculation == "when_required"
    assert botocore_config.response_checksum_validation == "when_required"


def test_botocores_chain_finds_the_endpoint_and_credentials(
    s3_server: S3Server, bucket: str, bare_env: pytest.MonkeyPatch, make_bare: Any
) -> None:
    s3_server.put_object(bucket, "a.jsonl", _jsonl([1, 2]))
    bare_env.setenv("AWS_ENDPOINT_URL", s3_server.url)
    bare_env.setenv("AWS_DEFAULT_REGION", "us-east-1")
    bare_env.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY_ID)
    bare_env.setenv("AWS_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY)
    assert read_all(make_bare(), None).column("id") == [1, 2]


def test_no_credentials_anywhere(s3_server: S3Server, bucket: str, make_bare: Any) -> None:
    with pytest.raises(SourceError) as caught:
        make_bare(endpoint_url=s3_server.url).plan(None)
    line = caught.value.one_line()
    assert f"no credentials for bucket {bucket!r}" in line and "anonymous = true" in line


def test_anonymous_requests_are_unsigned(s3_server: S3Server, bucket: str, make_bare: Any) -> None:
    # A signed request would find no credentials, and the object is readable by anyone.
    s3_server.put_object(bucket, "public.jsonl", _jsonl([7]))
    s3_server.client.put_object_acl(Bucket=bucket, Key="public.jsonl", ACL="public-read")
    source = make_bare(endpoint_url=s3_server.url, anonymous=True)
    assert read_all(source, None).column("id") == [7]


# -- bad options and failures: one clear line ---------------------------------------------------


@pytest.mark.parametrize(
    "bad",
    [
        {"bucket": "s3://data/prefix"},
        {"access_key_id": ACCESS_KEY_ID},
        {"secret_access_key": None},
        {"anonymous": True},
        {"endpoint_url": "127.0.0.1:9000"},
        {"prefix": "a/", "pattern": "b/*.csv"},
        {"format": "xml"},
        {"max_attempts": 0},
    ],
)
def test_bad_options_are_config_errors(
    s3_host: TestHost, options: dict[str, Any], bad: dict[str, Any]
) -> None:
    merged = {k: v for k, v in {**options, **bad}.items() if v is not None}
    with pytest.raises(ConfigError) as caught:
        connector.create(merged, s3_host)
    assert caught.value.one_line().startswith("s3 connector:")
    assert SECRET_ACCESS_KEY not in caught.value.one_line()


def test_a_missing_secret_fails_at_create(tmp_path: Path, options: dict[str, Any]) -> None:
    with pytest.raises(SecretError, match="S3_SECRET_ACCESS_KEY"):
        connector.create(options, TestHost(tmp_path, secrets={"S3_ACCESS_KEY_ID": "x"}))


def test_an_unreachable_endpoint(make: Any, s3_server: S3Server) -> None:
    source = make(endpoint_url="http://127.0.0.1:9", max_attempts=1, timeout=5)
    with pytest.raises(SourceUnreachable) as caught:
        source.plan(None)
    line = caught.value.one_line()
    assert "cannot reach bucket" in line and "127.0.0.1:9" in line and "\n" not in line


def test_no_such_bucket(make: Any) -> None:
    with pytest.raises(SourceError) as caught:
        make(bucket="no-such-bucket").plan(None)
    assert "'no-such-bucket'" in caught.value.one_line()
    assert "does not exist" in caught.value.one_line()


def test_access_denied_names_no_credential(
    s3_server: S3Server,
    make: Any,
) -> None:
    source = make()
    with s3_server.require_auth(), pytest.raises(SourceError) as caught:
        source.plan(None)
    line = caught.value.one_line()
    assert "denied" in line and "InvalidAccessKeyId" in line
    assert ACCESS_KEY_ID not in line and SECRET_ACCESS_KEY not in line


def test_without_the_s3_extra(make: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # A None entry in sys.modules makes the import fail as if the package were absent.
    monkeypatch.setitem(sys.modules, "aiobotocore.session", None)
    with pytest.raises(MissingDependency) as caught:
        make().plan(None)
    assert "hakiri-connectors[s3]" in caught.value.one_line()
