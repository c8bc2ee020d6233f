"""Postgres load benchmark: ``hakiri run`` over a big table of a real PostgreSQL.

A table of ``--rows`` rows (bigint id primary key, text, numeric(12,2), timestamptz, jsonb,
bool; generated server-side with ``generate_series``) is read by ``hakiri run`` as a
subprocess, measured from outside (wall time, peak RSS via wait4). The output is checked —
``count(*)`` and ``count(distinct id)`` in the store equal the table — before the time
counts; a wrong count exits non-zero.

The server is ``HAKIRI_TEST_POSTGRES_URL``'s (a fresh database, dropped afterwards) or one
started from pgserver's binaries in a temporary directory (``hakiri.testing.postgres``).

    uv run python benchmarks/postgres_load.py                 # 5,000,000 rows
    uv run python benchmarks/postgres_load.py --rows 200000   # a quick run

Prints a markdown table (and writes it to ``--out`` when given).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from tempfile import TemporaryDirectory

from _measure import Measurement, measure
from _report import machine_info

from hakiri.testing.postgres import PostgresDatabase, open_server

HAKIRI = str(Path(sys.executable).with_name("hakiri"))
RSS_TARGET_MB = 400

TABLE = """
CREATE TABLE orders (
    id bigint NOT NULL,
    customer text NOT NULL,
    amount numeric(12,2),
    created_at timestamptz NOT NULL,
    attributes jsonb,
    paid boolean
);
INSERT INTO orders
SELECT g,
       'customer ' || (g % 50000),
       round((random() * 10000)::numeric, 2),
       timestamptz '2024-01-01' + g * interval '5 seconds',
       jsonb_build_object('channel', (ARRAY['web','store','phone'])[1 + g % 3],
                          'items', 1 + g % 7, 'note', CASE WHEN g % 10 = 0 THEN 'gift' END),
       g % 3 <> 0
FROM generate_series(1, {rows}) AS g;
ALTER TABLE orders ADD PRIMARY KEY (id);
"""

MANIFEST = """[project]
name = "pg_bench"

[pipelines.orders]
chunk_rows = {chunk_rows}

[pipelines.orders.source]
connector = "postgres"
dsn = "secret://BENCH_PG_DSN"
table = "public.orders"
batch_rows = {batch_rows}{incremental}
"""


class BenchmarkError(RuntimeError):
    """hakiri failed, or the store does not hold the table's rows."""


@dataclass(frozen=True)
class Outcome:
    rows: int
    load_seconds: float
    run: Measurement
    store_mb: float


def _load(database: PostgresDatabase, rows: int) -> float:
    started = time.perf_counter()
    database.execute(TABLE.format(rows=int(rows)))
    database.execute("VACUUM ANALYZE orders")  # not inside the load's transaction
    return time.perf_counter() - started


def _check(project: Path, env: dict[str, str], rows: int) -> None:
    sql = "select count(*), count(distinct id) from orders"
    query = measure([HAKIRI, "query", sql, "--format", "json"], cwd=project, env=env)
    if query.returncode != 0:
        raise BenchmarkError(f"hakiri query failed: {query.stderr.strip()[-2000:]}")
    found = json.loads(query.stdout)["rows"]
    if found != [[rows, rows]]:
        raise BenchmarkError(f"`{sql}` gave {found}; the table has {rows} rows")


def bench(args: argparse.Namespace, workdir: Path) -> Outcome:
    with open_server() as server:
        database = server.create_database()
        try:
            load_seconds = _load(database, args.rows)
            project = workdir / "project"
            project.mkdir()
            incremental = '\nincremental_column = "created_at"' if args.incremental else ""
            (project / "hakiri.toml").write_text(
                MANIFEST.format(
                    chunk_rows=args.chunk_rows,
                    batch_rows=args.batch_rows,
                    incremental=incremental,
                )
            )
            env = {**os.environ, "BENCH_PG_DSN": database.url}
            env = {k: v for k, v in env.items() if k != "HAKIRI_FAILPOINTS"}
            run = measure([HAKIRI, "run", "orders", "--json"], cwd=project, env=env)
            if run.returncode != 0:
                raise BenchmarkError(f"hakiri run failed: {run.stderr.strip()[-2000:]}")
            _check(project, env, args.rows)
            store = project / ".hakiri"
            size = sum(p.stat().st_size for p in store.rglob("*.parquet"))
            return Outcome(args.rows, load_seconds, run, size / 1024**2)
        finally:
            server.drop_database(database)


def render(outcome: Outcome, args: argparse.Namespace, argv: list[str]) -> str:
    run = outcome.run
    mode = "incremental on created_at" if args.incremental else "snapshot by primary key"
    verdict = "within" if run.peak_rss_mb < RSS_TARGET_MB else "OVER"
    return "\n".join(
        [
            "# Postgres load benchmark",
            "",
            f"- command: `python {' '.join([sys.argv[0], *argv])}`",
            f"- machine: {machine_info()}",
            "- source: PostgreSQL (pgserver's build, or HAKIRI_TEST_POSTGRES_URL) on 127.0.0.1, "
            "table of bigint id, text, numeric(12,2), timestamptz, jsonb, bool",
            f"- read: keyset pages of {args.batch_rows:,} rows ({mode}), commits of "
            f"{args.chunk_rows:,} rows; table generated in {outcome.load_seconds:.1f} s",
            "",
            "| rows | wall s | rows/s | peak RSS MB | Parquet MB |",
            "|---:|---:|---:|---:|---:|",
            f"| {outcome.rows:,} | {run.seconds:.2f} | {outcome.rows / run.seconds:,.0f} | "
            f"{run.peak_rss_mb:.0f} | {outcome.store_mb:.0f} |",
            "",
            f"- peak RSS {verdict} the {RSS_TARGET_MB} MB target; `count(*)` and "
            "`count(distinct id)` in the store equal the table's rows",
            "",
        ]
    )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=5_000_000, help="rows in the table")
    parser.add_argument("--batch-rows", type=int, default=50_000, help="rows per page")
    parser.add_argument("--chunk-rows", type=int, default=50_000, help="rows per commit")
    parser.add_argument(
        "--incremental", action="store_true", help="read with incremental_column = created_at"
    )
    parser.add_argument("--tmp", type=Path, default=None, help="directory for the project")
    parser.add_argument("--out", type=Path, default=None, help="write the markdown here too")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    raw = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(raw)
    with TemporaryDirectory(prefix="hakiri-pg-bench-", dir=args.tmp) as tmp:
        try:
            outcome = bench(args, Path(tmp))
        except BenchmarkError as exc:
            print(f"benchmark failed: {exc}", file=sys.stderr)
            return 1
    report = render(outcome, args, raw)
    print(report)
    if args.out is not None:
        args.out.write_text(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
