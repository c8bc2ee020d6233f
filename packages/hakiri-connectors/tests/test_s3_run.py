"""End to end: ``hakiri run`` reads a bucket into the store, ``hakiri query`` counts it."""

from __future__ import annotations

import gzip
from pathlib import Path

from hakiri.testing.cli import CliResult, run_hakiri
from hakiri.testing.project import store_fingerprint, write_manifest
from hakiri.testing.s3 import SECRET_ACCESS_KEY, S3Server

MANIFEST = """[pipelines.events]
[pipelines.events.source]
connector = "s3"
bucket = "{bucket}"
endpoint_url = "{url}"
pattern = "events/**/*.csv*"
access_key_id = "secret://S3_ACCESS_KEY_ID"
secret_access_key = "secret://S3_SECRET_ACCESS_KEY"
max_attempts = 1
"""


def _count(project: Path, env: dict[str, str]) -> list[list[object]]:
    sql = "select count(*), count(distinct id) from events"
    result = run_hakiri("query", sql, "--format", "json", cwd=project, env=env).check()
    rows: list[list[object]] = result.json()["rows"]
    return rows


def _error_line(result: CliResult) -> str:
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error["), result.stderr
    return lines[0]


def test_run_reads_the_bucket_incrementally_and_fails_cleanly(
    tmp_path: Path,
    s3_server: S3Server,
) -> None:
    s3, bucket = s3_server, s3_server.new_bucket()
    s3.put_object(bucket, "events/2026/01.csv", b"id,kind\n1,a\n2,b\n")
    s3.put_object(bucket, "events/2026/02.csv.gz", gzip.compress(b"id,kind\n3,c\n"))
    s3.put_object(bucket, "events/readme.txt", b"not matched by the pattern")
    write_manifest(tmp_path, MANIFEST.format(bucket=bucket, url=s3.url))
    env = s3.secrets()

    first = run_hakiri("run", "events", cwd=tmp_path, env=env).check()
    assert "3 rows in 2 pages" in first.stdout
    assert _count(tmp_path, env) == [[3, 3]]

    s3.put_object(bucket, "events/2026/03.csv", b"id,kind\n4,d\n5,e\n")
    second = run_hakiri("run", "events", cwd=tmp_path, env=env).check()
    assert "2 rows in 1 page" in second.stdout
    assert _count(tmp_path, env) == [[5, 5]]

    # An endpoint that does not answer: one line naming it, and the store as it was.
    before = store_fingerprint(tmp_path / ".hakiri")
    manifest = tmp_path / "hakiri.toml"
    manifest.write_text(manifest.read_text().replace(s3.url, "http://127.0.0.1:9"))
    line = _error_line(run_hakiri("run", "events", cwd=tmp_path, env=env))
    assert "error[source_unreachable]" in line and "127.0.0.1:9" in line
    assert SECRET_ACCESS_KEY not in line
    assert store_fingerprint(tmp_path / ".hakiri") == before
