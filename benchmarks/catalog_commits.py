"""Catalog commit benchmark: cursor commits against SQLite and Postgres, alone and concurrent.

Each commit is what the runtime sends after staging a chunk: one file (a record only — the
catalog never reads the file), the cursor moved by compare-and-set, the commit's step.

- ``sequential``: one process makes ``--commits`` commits on one pipeline, one at a time.
- ``8 pipelines``: ``--processes`` processes, each committing its share of ``--commits`` to
  a pipeline of its own, all at once (writers that do not contend for a cursor).
- ``1 pipeline, CAS``: the same processes all commit to one pipeline: each reads the cursor,
  commits on its version, and on ``cursor_conflict`` reads again and retries — every
  process lands its share; the retries are counted.

After each mode the catalog is checked — every cursor at the version its commits make, one
file per commit — or the benchmark fails. Latency per commit is measured around
``Catalog.commit`` (for CAS: from the first attempt to the one that landed, re-reads
included). Processes open their catalog before a barrier; the wall time runs from the
barrier to the last commit. Goals (issue 13): 1,000 sequential commits in < 0.5 s on
SQLite, < 2 s on Postgres.

SQLite is a catalog file in a temporary directory (WAL, ``synchronous = FULL``: every
commit syncs). Postgres is ``--postgres-url`` (a database the benchmark commits to: its
tables are created if missing, its pipelines get fresh names, nothing is removed), else
a fresh database on ``HAKIRI_TEST_POSTGRES_URL``'s server or on one started from pgserver's
binaries (``hakiri.testing.postgres``, which runs with ``fsync = off``: the figures then
leave out the disk flush a production server pays per commit).

    uv run python benchmarks/catalog_commits.py
    uv run python benchmarks/catalog_commits.py --commits 200 --processes 4 --backends sqlite

Prints a markdown table (and writes it to ``--out`` when given).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import shlex
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

import pyarrow as pa
from _report import machine_info

from hakiri.core.cursor import CursorKind
from hakiri.core.errors import CursorConflict
from hakiri.core.plugins import open_catalog
from hakiri.core.ports import Catalog
from hakiri.core.records import (
    CommitRequest,
    RunRecord,
    RunStatus,
    StagedFile,
    StepRecord,
    WriteDisposition,
)
from hakiri.core.schema import Schema

GOALS_S = {"sqlite": 0.5, "postgres": 2.0}
SCHEMA = Schema.from_arrow(pa.schema([pa.field("id", pa.int64()), pa.field("at", pa.string())]))
MODES = ("sequential", "pipelines", "cas")
MODE_NAMES = {
    "sequential": "sequential",
    "pipelines": "{n} pipelines",
    "cas": "1 pipeline, CAS",
}


class BenchmarkError(RuntimeError):
    """A committer failed, or the catalog does not hold every commit once."""


@dataclass(frozen=True)
class Outcome:
    backend: str
    mode: str
    processes: int
    commits: int
    seconds: float
    latencies: list[float]
    retries: int = 0

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


# -- one committer ---------------------------------------------------------------------------


def _request(run_id: str, pipeline: str, n: int, version: int) -> CommitRequest:
    """The runtime's commit of one staged chunk: one file, the cursor moved past it."""
    path = f"context/{pipeline}/{run_id}-{n:06d}.parquet"
    checksum = "sha256:" + f"{n:064x}"[-64:]
    return CommitRequest(
        run_id=run_id,
        pipeline=pipeline,
        table=pipeline,
        write=WriteDisposition.APPEND,
        files=[StagedFile(path, 1000, 48_000, checksum, SCHEMA)],
        cursor_kind=CursorKind.MONOTONIC,
        cursor_value=f"2026-01-01T00:00:00.{n:06d}Z",
        expected_version=version,
        step=StepRecord(run_id, f"commit:{n}", "commit", {"files": [path]}, datetime.now(UTC)),
        pages=1,
    )


def _start_run(catalog: Catalog, pipeline: str) -> str:
    run_id = f"bench-{uuid.uuid4().hex[:12]}"
    catalog.create_run(
        RunRecord(run_id, pipeline, RunStatus.RUNNING, datetime.now(UTC), pid=os.getpid())
    )
    return run_id


def _commit_all(catalog: Catalog, run_id: str, pipeline: str, commits: int) -> list[float]:
    """``commits`` commits, each on the version the previous one made (no contention)."""
    cursor = catalog.get_cursor(pipeline)
    version = cursor.version if cursor else 0
    latencies = []
    for n in range(commits):
        request = _request(run_id, pipeline, n, version)
        started = time.perf_counter()
        version = catalog.commit(request).cursor.version
        latencies.append(time.perf_counter() - started)
    return latencies


def _commit_cas(
    catalog: Catalog, run_id: str, pipeline: str, commits: int
) -> tuple[list[float], int]:
    """``commits`` commits on a cursor others move too: re-read and retry on a conflict."""
    latencies, retries = [], 0
    for n in range(commits):
        started = time.perf_counter()
        while True:
            cursor = catalog.get_cursor(pipeline)
            try:
                catalog.commit(_request(run_id, pipeline, n, cursor.version if cursor else 0))
                break
            except CursorConflict:
                retries += 1
        latencies.append(time.perf_counter() - started)
    return latencies, retries


def _worker(url: str, pipeline: str, commits: int, cas: bool, barrier: Any, results: Any) -> None:
    catalog = open_catalog(url)
    try:
        run_id = _start_run(catalog, pipeline)
        barrier.wait()
        if cas:
            latencies, retries = _commit_cas(catalog, run_id, pipeline, commits)
        else:
            latencies, retries = _commit_all(catalog, run_id, pipeline, commits), 0
        results.put((time.perf_counter(), latencies, retries))
    finally:
        catalog.close()


# -- the three modes -------------------------------------------------------------------------


def sequential(url: str, backend: str, commits: int) -> Outcome:
    catalog = open_catalog(url)
    try:
        pipeline = f"seq_{uuid.uuid4().hex[:8]}"
        run_id = _start_run(catalog, pipeline)
        started = time.perf_counter()
        latencies = _commit_all(catalog, run_id, pipeline, commits)
        seconds = time.perf_counter() - started
    finally:
        catalog.close()
    _check_versions(url, {pipeline: commits})
    return Outcome(backend, "sequential", 1, len(latencies), seconds, latencies)


def concurrent(url: str, backend: str, commits: int, processes: int, *, cas: bool) -> Outcome:
    """``processes`` committers started with spawn (no engine crosses a fork), released at
    once by a barrier the parent also waits on."""
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(processes + 1)
    results = context.Queue()
    shared = f"cas_{uuid.uuid4().hex[:8]}"
    shares = [commits // processes + (i < commits % processes) for i in range(processes)]
    workers = [
        context.Process(
            target=_worker,
            args=(url, shared if cas else f"p{i}_{shared}", share, cas, barrier, results),
        )
        for i, share in enumerate(shares)
    ]
    for worker in workers:
        worker.start()
    try:
        barrier.wait(timeout=120)
        started = time.perf_counter()
        done = [results.get(timeout=600) for _ in workers]
    finally:
        for worker in workers:
            worker.join(timeout=30)
            if worker.is_alive():
                worker.kill()
    failed = [w.exitcode for w in workers if w.exitcode != 0]
    if failed:
        raise BenchmarkError(f"committer processes failed (exit codes {failed})")
    _check_versions(
        url, {shared: commits} if cas else {f"p{i}_{shared}": n for i, n in enumerate(shares)}
    )
    latencies = [latency for _, batch, _ in done for latency in batch]
    seconds = max(end for end, _, _ in done) - started
    mode = "cas" if cas else "pipelines"
    retries = sum(r for *_, r in done)
    return Outcome(backend, mode, processes, len(latencies), seconds, latencies, retries)


def _check_versions(url: str, expected: dict[str, int]) -> None:
    """Every commit landed once: each cursor is at the version its commits make."""
    catalog = open_catalog(url)
    try:
        for pipeline, commits in expected.items():
            cursor = catalog.get_cursor(pipeline)
            files = len(catalog.list_files(pipeline))
            if cursor is None or cursor.version != commits or files != commits:
                raise BenchmarkError(
                    f"{pipeline}: cursor {cursor} and {files} files after {commits} commits"
                )
    finally:
        catalog.close()


# -- backends --------------------------------------------------------------------------------


@contextmanager
def backend_url(backend: str, args: argparse.Namespace, tmp: Path) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{tmp / 'catalog.db'}"
        return
    if args.postgres_url:
        yield args.postgres_url
        return
    from hakiri.testing.postgres import open_server

    with open_server() as server:
        database = server.create_database()
        try:
            yield database.url
        finally:
            server.drop_database(database)


def bench(args: argparse.Namespace) -> list[Outcome]:
    outcomes = []
    for backend in args.backends:
        with ExitStack() as stack:
            tmp = Path(stack.enter_context(TemporaryDirectory(prefix="hakiri-commits-")))
            url = stack.enter_context(backend_url(backend, args, tmp))
            open_catalog(url).close()  # the schema exists before anything is timed
            for mode in args.modes:
                if mode == "sequential":
                    outcomes.append(sequential(url, backend, args.commits))
                else:
                    outcome = concurrent(
                        url, backend, args.commits, args.processes, cas=mode == "cas"
                    )
                    outcomes.append(outcome)
    return outcomes


# -- report ----------------------------------------------------------------------------------


def render(outcomes: list[Outcome], args: argparse.Namespace, argv: list[str]) -> str:
    lines = [
        "# Catalog commit benchmark",
        "",
        f"- command: `{shlex.join(['python', sys.argv[0], *argv])}`",
        f"- date: {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}",
        f"- machine: {machine_info()}",
        "- a commit: one file record, the cursor by compare-and-set, the commit's step "
        "(`Catalog.commit`, as the runtime sends it)",
        "- SQLite: a catalog file (WAL, synchronous = FULL); Postgres: "
        + (
            "`--postgres-url`"
            if args.postgres_url
            else "local test server on 127.0.0.1 (pgserver's build, fsync = off)"
        ),
        "",
        "| backend | mode | processes | commits | total s | commits/s | p50 ms | p99 ms "
        "| CAS retries | goal |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for o in outcomes:
        goal = "—"
        if o.mode == "sequential" and o.commits == 1000:
            limit = GOALS_S[o.backend]
            goal = f"{'met' if o.seconds < limit else 'MISSED'} (< {limit} s)"
        lines.append(
            f"| {o.backend} | {MODE_NAMES[o.mode].format(n=o.processes)} | {o.processes} | "
            f"{o.commits:,} | {o.seconds:.3f} | {o.commits / o.seconds:,.0f} | "
            f"{o.percentile(0.5) * 1000:.2f} | {o.percentile(0.99) * 1000:.2f} | "
            f"{o.retries if o.mode == 'cas' else '—'} | {goal} |"
        )
    return "\n".join(lines) + "\n"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--commits", type=int, default=1000, help="commits per mode and backend")
    parser.add_argument("--processes", type=int, default=8, help="concurrent committers")
    parser.add_argument(
        "--backends",
        type=lambda s: s.split(","),
        default=["sqlite", "postgres"],
        help="comma-separated: sqlite,postgres",
    )
    parser.add_argument(
        "--modes",
        type=lambda s: s.split(","),
        default=list(MODES),
        help="comma-separated: " + ",".join(MODES),
    )
    parser.add_argument(
        "--postgres-url", default=None, help="a Postgres database to commit to (default: start one)"
    )
    parser.add_argument("--out", type=Path, default=None, help="write the markdown here too")
    args = parser.parse_args(argv)
    for name, allowed in (("backends", GOALS_S), ("modes", MODES)):
        unknown = set(getattr(args, name)) - set(allowed)
        if unknown:
            parser.error(f"unknown {name}: {', '.join(sorted(unknown))}")
    return args


def main(argv: list[str] | None = None) -> int:
    raw = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(raw)
    try:
        outcomes = bench(args)
    except BenchmarkError as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        return 1
    report = render(outcomes, args, raw)
    print(report, end="")
    if args.out is not None:
        args.out.write_text(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
