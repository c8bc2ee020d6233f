"""The context destination: staged files are invisible until commit; orphans are collected."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from hakiri.connectors.http import connector as http_connector
from hakiri.context.catalog import open_catalog
from hakiri.context.destination import ContextDestination, connector
from hakiri.context.testing import commit_request, run_record
from hakiri.core.errors import ConfigError, StoreError
from hakiri.core.ports import Catalog
from hakiri.core.schema import Schema
from hakiri.testing.demo_api import DemoApi
from hakiri.testing.host import TestHost
from hakiri.testing.sources import read_all


@pytest.fixture(params=["memory", "sqlite"])
def catalog(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Catalog]:
    url = "memory://" if request.param == "memory" else f"sqlite:///{tmp_path}/catalog.db"
    catalog = open_catalog(url)
    yield catalog
    catalog.close()


@pytest.fixture
def store_host(tmp_path: Path, catalog: Catalog) -> TestHost:
    return TestHost(tmp_path, tmp_path / "store", catalog=catalog)


@pytest.fixture
def destination(store_host: TestHost) -> Iterator[ContextDestination]:
    with connector.create({}, store_host) as destination:
        yield destination


def _table(first_id: int = 1, rows: int = 3) -> pa.Table:
    ids = list(range(first_id, first_id + rows))
    return pa.table({"id": ids, "name": [f"n{i}" for i in ids]})


def test_stage_writes_an_invisible_parquet_file(
    destination: ContextDestination, store_host: TestHost, catalog: Catalog
) -> None:
    data = _table()
    staged = destination.stage("issues", data, run_id="r1", seq=0)
    assert staged.path == "context/issues/r1-000000.parquet"
    path = store_host.store_root / staged.path
    content = path.read_bytes()
    assert staged.rows == 3
    assert staged.bytes == len(content)
    assert staged.checksum == "sha256:" + hashlib.sha256(content).hexdigest()
    assert staged.schema == Schema.from_arrow(data.schema)
    assert pq.read_table(path).select(["id", "name"]).to_pylist() == data.to_pylist()
    assert catalog.list_files("issues") == []  # nothing is visible before commit


def test_same_data_gives_byte_identical_files(destination: ContextDestination) -> None:
    one = destination.stage("issues", _table(), run_id="r1", seq=1)
    two = destination.stage("issues", _table(), run_id="r2", seq=1)
    assert one.checksum == two.checksum


def test_commit_publishes_through_the_catalog(
    destination: ContextDestination, catalog: Catalog
) -> None:
    catalog.create_run(run_record("r1"))
    staged = destination.stage("issues", _table(), run_id="r1", seq=0)
    result = destination.commit(commit_request("r1", files=(staged,), cursor_value=3))
    assert [f.path for f in result.files] == [staged.path]
    assert [f.path for f in catalog.list_files("issues")] == [staged.path]
    assert result.cursor.value == 3


def test_prepare_removes_only_orphans(
    destination: ContextDestination, store_host: TestHost, catalog: Catalog
) -> None:
    committed_run, live_run, dead_run = "2024-05-01-aaa", "2024-05-01-bbb", "2024-05-01-ccc"
    catalog.create_run(run_record(committed_run))
    committed = destination.stage("issues", _table(), run_id=committed_run, seq=0)
    destination.commit(commit_request(committed_run, files=(committed,)))
    live = destination.stage("issues", _table(4), run_id=live_run, seq=0)
    dead = [destination.stage("issues", _table(7), run_id=dead_run, seq=i).path for i in (0, 1)]
    folder = store_host.store_root / "context" / "issues"
    (folder / f"{dead_run}-000002.parquet.tmp").write_bytes(b"half a file")
    (folder / "notes.txt").write_text("not a data file")
    other = destination.stage("other", _table(), run_id=dead_run, seq=0)

    removed = destination.prepare("issues", live_runs={live_run})

    assert removed == sorted([*dead, f"context/issues/{dead_run}-000002.parquet.tmp"])
    remaining = sorted(p.name for p in folder.iterdir())
    assert remaining == sorted([Path(committed.path).name, Path(live.path).name, "notes.txt"])
    assert (store_host.store_root / other.path).exists()  # another table is untouched
    # Once the live run is gone, its files are orphans too.
    assert destination.prepare("issues", live_runs=set()) == [live.path]
    assert destination.prepare("missing", live_runs=set()) == []


def test_bad_names_never_become_paths(destination: ContextDestination) -> None:
    with pytest.raises(StoreError):
        destination.stage("../escape", _table(), run_id="r1", seq=0)
    with pytest.raises(StoreError):
        destination.stage("issues", _table(), run_id="../r1", seq=0)
    with pytest.raises(StoreError):
        destination.prepare("Bad Name", live_runs=set())
    # Matched whole: a trailing newline or another control character is not a name.
    for bad in ("issues\n", "issues\r", "issues\x00", "issues\r\n", "\nissues"):
        with pytest.raises(StoreError):
            destination.stage(bad, _table(), run_id="r1", seq=0)
        with pytest.raises(StoreError):
            destination.prepare(bad, live_runs=set())
    for bad_run in ("r1\n", "r1\x00", "r\x1b1"):
        with pytest.raises(StoreError):
            destination.stage("issues", _table(), run_id=bad_run, seq=0)
    assert not [p for p in destination.store_root.rglob("*") if not p.name.isprintable()]


def test_options_are_validated(store_host: TestHost) -> None:
    with pytest.raises(ConfigError, match="unknown option 'path'"):
        connector.create({"path": "/tmp"}, store_host)


def test_http_source_to_context_store(
    destination: ContextDestination, store_host: TestHost, catalog: Catalog
) -> None:
    """A page read from a real API lands, is staged and is published."""
    catalog.create_run(run_record("run1", pipeline="issues"))
    with DemoApi(issues=12) as api:
        options = {
            "url": f"{api.url}/issues",
            "params": {"style": "token", "per_page": 5},
            "records": "items",
            "pagination": {"kind": "next_token", "path": "next_token", "param": "token"},
        }
        with http_connector.create(options, store_host) as source:
            result = read_all(source)
    staged = [
        destination.stage("issues", page.table, run_id="run1", seq=i)
        for i, page in enumerate(result.data)
    ]
    destination.commit(commit_request("run1", files=tuple(staged)))
    files = catalog.list_files("issues")
    assert [f.rows for f in files] == [5, 5, 2]
    ids = [
        i
        for f in files
        for i in pq.read_table(store_host.store_root / f.path).column("id").to_pylist()
    ]
    assert ids == list(range(1, 13))
