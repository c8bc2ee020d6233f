"""Query latency: the sandboxed query processes vs the in-process query they replaced.

A store holds one table of ``--rows`` (1,000,000) rows in ``--files`` Parquet files (id,
a category, an amount, a text). Three ways to answer the same queries, one after another in
one run:

- ``before``: what ``context.query`` / ``POST /v1/query`` did until issue 11 — per call, open
  the store, build the views in this process, run the query there, close;
- ``sandboxed``: what they do now — per call, read the manifest and the catalog
  (read-only), then run the query in a ``QueryPool`` worker (Landlock, bounded memory,
  killed past its timeout), which keeps its views while the store is unchanged;
- ``library``: an open ``ContextStore`` in this process (a notebook's own SQL), for scale.

``--cli-runs`` (10) times ``hakiri query`` itself, a fresh process per query (start-up,
manifest, catalog, query process, answer); with ``--baseline-tree DIR`` (a checkout of an
older commit, e.g. ``git worktree add /tmp/old 32a5706``) the same command runs that
checkout's code too (its ``packages/*/src`` first on ``PYTHONPATH``), side by side.

Workloads: ``--points`` (1,000) point lookups ``where id = ?`` on random ids, and 10
aggregations (group by, distinct counts, quantiles, a window). Each is checked against the
``library`` answer. Prints a markdown table (mean / p50 / p95 per query, and sandboxed ÷
before) and one JSON line.

    uv run python benchmarks/query_latency.py
    uv run python benchmarks/query_latency.py --baseline-tree /tmp/old
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa

from hakiri.agent.queries import QueryService
from hakiri.context import open_store
from hakiri.context.testing import StoreBuilder
from hakiri.testing.project import write_manifest

AGGREGATIONS = [
    "select category, count(*) as n from big group by 1 order by 1",
    "select category, sum(amount) as s, avg(amount) as a from big group by 1 order by 1",
    "select count(distinct category) as n, count(distinct id % 1000) as m from big",
    "select quantile_cont(amount, [0.5, 0.9, 0.99]) as q from big",
    "select max(amount) - min(amount) as spread from big where category in ('a', 'c')",
    "select length(note) as l, count(*) as n from big group by 1 order by 1 limit 20",
    "select id, amount from big order by amount desc, id limit 10",
    "select category, max(id) as m from big where amount > 500 group by 1 order by 1",
    "select count(*) as n from big where note like '%7%'",
    "select category, sum(amount) over (partition by category) as s from big order by id limit 5",
]


def _build(root: Path, rows: int, files: int) -> None:
    write_manifest(root, "", name="bench")
    builder = StoreBuilder(root / ".hakiri")
    try:
        per_file = rows // files
        rng = random.Random(7)
        for index in range(files):
            start = index * per_file
            ids = list(range(start, start + per_file))
            builder.publish(
                "big",
                pa.table(
                    {
                        "id": ids,
                        "category": [("a", "b", "c", "d", "e")[i % 5] for i in ids],
                        "amount": [rng.random() * 1000 for _ in ids],
                        "note": [f"note {i * 7919 % 100003}" for i in ids],
                    }
                ),
            )
    finally:
        builder.close()


def _time(run: Callable[[str], object], sqls: list[str]) -> tuple[list[float], list[object]]:
    latencies: list[float] = []
    answers: list[object] = []
    for sql in sqls:
        started = time.perf_counter()
        answers.append(run(sql))
        latencies.append(time.perf_counter() - started)
    return latencies, answers


def _normal(answers: list[object]) -> object:
    """Answers comparable across paths: rows as lists, floats rounded (parallel float sums
    differ in the last digits from run to run)."""

    def value(v: object) -> object:
        if isinstance(v, float):
            return round(v, 6)
        if isinstance(v, list):
            return [value(x) for x in v]
        return json.loads(json.dumps(v, default=str))

    return [
        [[value(x) for x in (r.values() if isinstance(r, dict) else r)] for r in rows]  # type: ignore[attr-defined]
        for rows in answers
    ]


def _summary(latencies: list[float]) -> dict[str, float]:
    ordered = sorted(latencies)
    return {
        "mean_ms": statistics.fmean(ordered) * 1000,
        "p50_ms": ordered[len(ordered) // 2] * 1000,
        "p95_ms": ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))] * 1000,
    }


def _cli(root: Path, runs: int, baseline: Path | None) -> dict[str, dict[str, float]]:
    """Wall time of whole ``hakiri query`` commands, this tree's and the baseline's."""
    command = [str(Path(sys.executable).with_name("hakiri")), "query", "-p", str(root)]
    sql = "select * from big where id = 4242"
    trees: dict[str, dict[str, str]] = {"sandboxed": dict(os.environ)}
    if baseline is not None:
        sources = os.pathsep.join(str(p) for p in sorted(baseline.glob("packages/*/src")))
        trees = {"before": {**os.environ, "PYTHONPATH": sources}, **trees}
    out: dict[str, dict[str, float]] = {}
    for label, env in trees.items():
        latencies = []
        for _ in range(runs):
            started = time.perf_counter()
            subprocess.run([*command, sql], env=env, check=True, capture_output=True)
            latencies.append(time.perf_counter() - started)
        out[label] = _summary(latencies)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--files", type=int, default=10)
    parser.add_argument("--points", type=int, default=1000)
    parser.add_argument("--cli-runs", type=int, default=10)
    parser.add_argument("--baseline-tree", type=Path, default=None)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="hakiri-query-bench-") as tmp:
        root = Path(tmp) / "project"
        _build(root, args.rows, args.files)
        rng = random.Random(11)
        points = [
            f"select * from big where id = {rng.randrange(args.rows)}" for _ in range(args.points)
        ]
        workloads = {"points": points, "aggregations": AGGREGATIONS}

        def before(sql: str) -> object:
            with open_store(root) as store:
                return store.query(sql, limit=1000, timeout=30).to_pylist()

        service = QueryService(root)

        def sandboxed(sql: str) -> object:
            return service.query(sql, limit=1000, timeout=30)["rows"]

        library_store = open_store(root)

        def library(sql: str) -> object:
            return library_store.query(sql, limit=1000, timeout=30).to_pylist()

        sandboxed("select 1")  # start the pool's processes: a server pays this once
        library("select 1")
        results: dict[str, dict[str, dict[str, float]]] = {}
        for name, sqls in workloads.items():
            reference = _time(library, sqls)
            measured = {
                "before": _time(before, sqls),
                "sandboxed": _time(sandboxed, sqls),
                "library": reference,
            }
            expected = _normal(reference[1])
            for label in ("before", "sandboxed"):
                assert _normal(measured[label][1]) == expected, (
                    f"{label} answered {name} differently"
                )
            results[name] = {label: _summary(lat) for label, (lat, _) in measured.items()}
        service.close()
        library_store.close()
        cli = _cli(root, args.cli_runs, args.baseline_tree)

    print(f"\nQuery latency, {args.rows:,} rows in {args.files} files\n")
    print("| workload | path | mean | p50 | p95 | mean ÷ before |")
    print("|---|---|---:|---:|---:|---:|")
    for name, by_path in results.items():
        base = by_path["before"]["mean_ms"]
        for label, figures in by_path.items():
            print(
                f"| {name} | {label} | {figures['mean_ms']:.1f} ms | {figures['p50_ms']:.1f} ms "
                f"| {figures['p95_ms']:.1f} ms | {figures['mean_ms'] / base:.2f}× |"
            )
    for label, figures in cli.items():
        print(
            f"| `hakiri query` (one point query) | {label} | {figures['mean_ms']:.0f} ms "
            f"| {figures['p50_ms']:.0f} ms | {figures['p95_ms']:.0f} ms "
            f"| {figures['mean_ms'] / cli.get('before', figures)['mean_ms']:.2f}× |"
        )
    document = {"rows": args.rows, "files": args.files, "results": results, "cli": cli}
    print(json.dumps(document))
    return 0


if __name__ == "__main__":
    sys.exit(main())
