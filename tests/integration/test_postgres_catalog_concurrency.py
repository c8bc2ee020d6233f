"""The Postgres catalog under concurrency, with real processes: what only a server database
shared by many writers has to prove (issue 13, "Done means" 2).

- 8 processes commit to one pipeline's cursor with compare-and-set, 200 times each: no
  lost update, exactly one winner per version.
- Two processes holding fencing tokens N and N+1: once N+1 has committed, only its commits
  land, and N gets ``lease_lost``.
- A process SIGKILLed inside the commit transaction leaves none of that commit, and no lock
  behind.
- Processes opening a fresh database at the same moment create its tables once.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from hakiri.context.catalog.postgres import open_postgres_catalog
from hakiri.context.testing import commit_request, run_record, staged_file
from hakiri.testing.postgres import PostgresDatabase

WRITERS = 8
COMMITS = 200

# One worker: waits for the go file, then commits until it has ``count`` commits (or, with
# count 0, until it loses its lease), re-reading the version after each conflict. Prints
# the versions it won and how it ended, as JSON.
_WORKER = """
import json, sys, time
from datetime import timedelta
from pathlib import Path
from hakiri.context.catalog.postgres import open_postgres_catalog
from hakiri.context.testing import commit_request, run_record, staged_file, worker_lease
from hakiri.core.errors import CursorConflict, LeaseLost

url, run_id, count, token, start_at, go = sys.argv[1:7]
lease = None
if int(token):
    lease = worker_lease(int(token), holder=run_id, ttl=timedelta(minutes=10))
Path(go + "." + run_id + ".ready").touch()
deadline = time.monotonic() + 120
while not Path(go).exists():
    if time.monotonic() > deadline:
        sys.exit("timed out waiting to start")
    time.sleep(0.002)
# Every worker opens the fresh database at the same moment: one creates the tables, the
# others wait on the schema lock and find them.
catalog = open_postgres_catalog(url)
catalog.create_run(run_record(run_id))


def version():
    cursor = catalog.get_cursor("issues")
    return cursor.version if cursor else 0


while version() < int(start_at):
    if time.monotonic() > deadline:
        sys.exit("timed out waiting for the other worker")
    time.sleep(0.002)
won, outcome, seq, conflicts = [], "done", 0, 0
while int(count) == 0 or len(won) < int(count):
    if time.monotonic() > deadline:
        outcome = "timeout"
        break
    seq += 1
    request = commit_request(
        run_id,
        files=(staged_file(f"context/issues/{run_id}-{seq:05d}.parquet", rows=1),),
        expected_version=version(),
        key=f"commit:{seq}",
        cursor_value={"run": run_id, "seq": seq},
        lease=lease,
    )
    try:
        won.append(catalog.commit(request).cursor.version)
    except CursorConflict:
        conflicts += 1
        continue
    except LeaseLost:
        outcome = "lease_lost"
        break
catalog.close()
print(json.dumps({"run": run_id, "outcome": outcome, "won": won, "conflicts": conflicts}))
"""


def _url(db: PostgresDatabase) -> str:
    return "postgres://" + db.url.partition("://")[2]


def _prepare(db: PostgresDatabase, runs: list[str]) -> None:
    catalog = open_postgres_catalog(_url(db))
    try:
        for run_id in runs:
            catalog.create_run(run_record(run_id))
    finally:
        catalog.close()


def _workers(
    db: PostgresDatabase, tmp_path: Path, specs: list[tuple[str, int, int, int]]
) -> list[dict[str, Any]]:
    """Run one worker per ``(run_id, count, token, start_at)`` at once; their reports."""
    go = tmp_path / "go"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _WORKER, _url(db), run, str(n), str(token), str(at), str(go)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for run, n, token, at in specs
    ]
    try:
        # Start together: every worker has imported before any opens the catalog.
        deadline = time.monotonic() + 60
        while not all((tmp_path / f"go.{run}.ready").exists() for run, *_ in specs):
            assert time.monotonic() < deadline, "the workers never got ready"
            assert all(p.poll() is None for p in procs), [p.communicate() for p in procs]
            time.sleep(0.01)
        go.touch()
        outputs = [proc.communicate(timeout=150) for proc in procs]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert [proc.returncode for proc in procs] == [0] * len(procs), outputs
    return [json.loads(out) for out, _ in outputs]


def test_eight_writers_compare_and_set_with_one_winner_per_version(
    postgres_db: PostgresDatabase, tmp_path: Path
) -> None:
    runs = [f"w{i}" for i in range(WRITERS)]
    reports = _workers(postgres_db, tmp_path, [(run, COMMITS, 0, 0) for run in runs])

    assert all(r["outcome"] == "done" and len(r["won"]) == COMMITS for r in reports), reports
    total = WRITERS * COMMITS
    winners = Counter(version for r in reports for version in r["won"])
    # Every version from 1 to the last was won exactly once: no lost update, no two winners.
    assert sorted(winners) == list(range(1, total + 1))
    assert set(winners.values()) == {1}
    assert sum(r["conflicts"] for r in reports) > 0, "the writers never raced"

    catalog = open_postgres_catalog(_url(postgres_db))
    try:
        cursor = catalog.get_cursor("issues")
        assert cursor is not None and cursor.version == total
        # The catalog agrees with the winners: file i was committed by version i's winner.
        owner = {version: r["run"] for r in reports for version in r["won"]}
        files = catalog.list_files("issues")
        assert [f.run_id for f in files] == [owner[v] for v in range(1, total + 1)]
        last = max(reports, key=lambda r: max(r["won"]))
        assert cursor.value == {"run": last["run"], "seq": cursor.value["seq"]}
        for run_id in runs:
            run = catalog.get_run(run_id)
            assert run is not None and (run.files, run.rows) == (COMMITS, COMMITS)
            assert len(catalog.list_steps(run_id)) == COMMITS
    finally:
        catalog.close()


def test_after_token_n_plus_1_commits_only_its_commits_land(
    postgres_db: PostgresDatabase, tmp_path: Path
) -> None:
    # The old holder (token 4) commits until it is fenced off; the new one (token 5) starts
    # once the old one has committed a few times, then commits 50 times.
    reports = _workers(postgres_db, tmp_path, [("old", 0, 4, 0), ("new", 50, 5, 5)])
    old, new = reports

    assert old["outcome"] == "lease_lost" and len(old["won"]) >= 5, old
    assert new["outcome"] == "done" and len(new["won"]) == 50, new
    assert max(old["won"]) < min(new["won"])

    catalog = open_postgres_catalog(_url(postgres_db))
    try:
        owners = [f.run_id for f in catalog.list_files("issues")]
        first_new = owners.index("new")
        assert set(owners[:first_new]) == {"old"}
        assert owners[first_new:] == ["new"] * 50
        cursor = catalog.get_cursor("issues")
        assert cursor is not None and cursor.version == len(owners)
        fences = postgres_db.fetch("SELECT pipeline, shard, token, holder FROM fences")
        assert fences == [("issues", "", 5, "new")]
    finally:
        catalog.close()


_KILLED = """
import sys
import pyarrow as pa
from hakiri.context.catalog.postgres import open_postgres_catalog
from hakiri.context.testing import commit_request, schema_of, staged_file

catalog = open_postgres_catalog(sys.argv[1])
for seq in range(3):
    # The third commit brings a new schema: a schema version and an event are written
    # before the failpoint inside the transaction kills the process.
    schema = schema_of(score=pa.int32()) if seq == 2 else None
    files = (staged_file(f"context/issues/k-{seq}.parquet", schema=schema),)
    catalog.commit(commit_request("k", files=files, expected_version=seq, key=f"c{seq}"))
"""


def test_a_writer_killed_inside_the_commit_transaction_leaves_none_of_it(
    postgres_db: PostgresDatabase,
) -> None:
    _prepare(postgres_db, ["k"])
    killed = subprocess.run(
        [sys.executable, "-c", _KILLED, _url(postgres_db)],
        env={**os.environ, "HAKIRI_FAILPOINTS": "inside_commit:3"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr

    catalog = open_postgres_catalog(_url(postgres_db))
    try:
        cursor = catalog.get_cursor("issues")
        assert cursor is not None and cursor.version == 2
        assert [f.path for f in catalog.list_files("issues")] == [
            "context/issues/k-0.parquet",
            "context/issues/k-1.parquet",
        ]
        assert [v.version for v in catalog.schema_versions("issues")] == [1]
        assert len(catalog.list_events("issues")) == 1  # the first schema version's
        assert [s.key for s in catalog.list_steps("k")] == ["c0", "c1"]
        run = catalog.get_run("k")
        assert run is not None and run.files == 2
        # The dead session's locks went with it: the next commit does not wait.
        started = time.monotonic()
        files = (staged_file("context/issues/k-2.parquet"),)
        catalog.commit(commit_request("k", files=files, expected_version=2, key="c2"))
        assert time.monotonic() - started < 5
    finally:
        catalog.close()
