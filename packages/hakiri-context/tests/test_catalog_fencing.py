"""Fencing beyond the conformance suite: the catalog's own clock decides expiry, an older
SQLite catalog gains the fences table, and two real processes racing with leases N and N+1."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from hakiri.context.catalog.memory import MemoryCatalog
from hakiri.context.catalog.sqlite import SqliteCatalog
from hakiri.context.testing import T0, commit_request, run_record, staged_file, worker_lease
from hakiri.core.clock import ManualClock
from hakiri.core.errors import LeaseLost
from hakiri.core.ports import Catalog
from hakiri.core.records import Lease

_Factory = Callable[[ManualClock], Catalog]


@pytest.fixture(params=["sqlite", "memory"])
def with_clock(request: pytest.FixtureRequest, tmp_path: Path) -> _Factory:
    def make(clock: ManualClock) -> Catalog:
        if request.param == "memory":
            return MemoryCatalog(clock=clock)
        return SqliteCatalog(tmp_path / "catalog.db", clock=clock)

    return make


def test_expiry_is_judged_by_the_catalogs_clock(with_clock: _Factory) -> None:
    clock = ManualClock(T0)
    catalog = with_clock(clock)
    try:
        catalog.create_run(run_record("r1"))
        lease = Lease("issues", "w1", 3, T0 + timedelta(seconds=10))
        # The step's own time says nothing about the lease: a late worker's clock may lie.
        late_step = T0 + timedelta(days=1)
        catalog.commit(commit_request("r1", lease=lease, at=late_step))
        clock.advance(timedelta(seconds=9))
        catalog.commit(commit_request("r1", expected_version=1, lease=lease, at=T0))
        clock.advance(timedelta(seconds=1))  # now == expires_at: the lease is over
        with pytest.raises(LeaseLost, match="expired"):
            catalog.commit(commit_request("r1", expected_version=2, lease=lease, at=T0))
        renewed = Lease("issues", "w1", 3, T0 + timedelta(minutes=1))
        catalog.commit(commit_request("r1", expected_version=2, lease=renewed, at=T0))
        cursor = catalog.get_cursor("issues")
        assert cursor is not None and cursor.version == 3
    finally:
        catalog.close()


def test_an_older_catalog_gains_the_fences_table_and_its_missing_columns(tmp_path: Path) -> None:
    path = tmp_path / "catalog.db"
    catalog = SqliteCatalog(path)
    catalog.create_run(run_record("r1"))
    catalog.commit(commit_request("r1", files=(staged_file("context/issues/a.parquet"),)))
    catalog.close()
    # A catalog from before fencing (and before tables.schema_policy and schema revisions).
    con = sqlite3.connect(path)
    con.execute("DROP TABLE alembic_version")
    con.execute("DROP TABLE fences")
    con.execute("ALTER TABLE tables DROP COLUMN schema_policy")
    con.commit()
    con.close()

    reader = SqliteCatalog(path, read_only=True)
    try:
        assert [f.path for f in reader.list_files("issues")] == ["context/issues/a.parquet"]
    finally:
        reader.close()

    reopened = SqliteCatalog(path)
    try:
        table = reopened.get_table("issues")
        assert table is not None and str(table.schema_policy) == "evolve"
        reopened.commit(commit_request("r1", expected_version=1, lease=worker_lease(1)))
        with pytest.raises(LeaseLost):
            reopened.commit(commit_request("r1", expected_version=2))
    finally:
        reopened.close()
    con = sqlite3.connect(path)
    try:
        assert con.execute("SELECT pipeline, shard, token FROM fences").fetchall() == [
            ("issues", "", 1)
        ]
    finally:
        con.close()


_WRITER = """
import json, sys, time
from datetime import timedelta
from pathlib import Path
from hakiri.context.catalog.sqlite import SqliteCatalog
from hakiri.context.testing import commit_request, staged_file, worker_lease
from hakiri.core.errors import CursorConflict, LeaseLost

path, run_id, token, count, start_at, wait_for = sys.argv[1:7]
catalog = SqliteCatalog(path)
lease = worker_lease(int(token), holder=run_id, ttl=timedelta(minutes=10))
Path(path + "." + run_id + ".ready").touch()
deadline = time.monotonic() + 90


def version():
    cursor = catalog.get_cursor("issues")
    return cursor.version if cursor else 0


while (wait_for != "-" and not Path(wait_for).exists()) or version() < int(start_at):
    if time.monotonic() > deadline:
        sys.exit("timed out waiting to start")
    time.sleep(0.001)
committed, outcome, seq = [], "done", 0
while int(count) == 0 or len(committed) < int(count):
    if time.monotonic() > deadline:
        outcome = "timeout"
        break
    seq += 1
    request = commit_request(
        run_id,
        files=(staged_file(f"context/issues/{run_id}-{seq:05d}.parquet"),),
        expected_version=version(),
        key=f"commit:{seq}",
        cursor_value=seq,
        lease=lease,
    )
    try:
        committed.append(catalog.commit(request).cursor.version)
    except CursorConflict:
        continue
    except LeaseLost:
        outcome = "lease_lost"
        break
catalog.close()
print(json.dumps({"outcome": outcome, "committed": committed}))
"""


def test_after_the_newer_leases_first_commit_only_its_commits_land(tmp_path: Path) -> None:
    path = tmp_path / "catalog.db"
    setup = SqliteCatalog(path)
    setup.create_run(run_record("old"))
    setup.create_run(run_record("new"))
    setup.close()

    def writer(run_id: str, token: int, count: int, start_at: int, wait_for: str) -> list[str]:
        args = [str(path), run_id, str(token), str(count), str(start_at), wait_for]
        return [sys.executable, "-c", _WRITER, *args]

    # The old holder (token 4) commits until it is fenced off; the new one (token 5) starts
    # once the old one has committed a few times, then commits 20 times.
    new_ready = f"{path}.new.ready"
    procs = [
        subprocess.Popen(writer("old", 4, 0, 0, new_ready), stdout=subprocess.PIPE, text=True),
        subprocess.Popen(writer("new", 5, 20, 3, "-"), stdout=subprocess.PIPE, text=True),
    ]
    try:
        outputs = [proc.communicate(timeout=120)[0] for proc in procs]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert [proc.returncode for proc in procs] == [0, 0], outputs
    old, new = (json.loads(out) for out in outputs)
    assert old["outcome"] == "lease_lost" and len(old["committed"]) >= 3
    assert new["outcome"] == "done" and len(new["committed"]) == 20
    assert max(old["committed"]) < min(new["committed"])

    catalog = SqliteCatalog(path)
    try:
        owners = [f.run_id for f in catalog.list_files("issues")]
        first_new = owners.index("new")
        assert set(owners[:first_new]) == {"old"}
        assert owners[first_new:] == ["new"] * 20
        cursor = catalog.get_cursor("issues")
        assert cursor is not None and cursor.version == len(owners)
        runs = {run_id: catalog.get_run(run_id) for run_id in ("old", "new")}
        assert {r: run.files for r, run in runs.items() if run} == {
            "old": len(old["committed"]),
            "new": 20,
        }
    finally:
        catalog.close()
