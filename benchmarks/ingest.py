"""Ingest benchmark: Hakiri against the bare floor loop and dlt, on the same synthetic API.

For each (rows, rows/page) one synthetic API (``hakiri.testing.synthetic``, its own
process on 127.0.0.1) serves the data; each tool runs as a subprocess, measured from the
outside (wall time, peak RSS via wait4), best of ``--runs``. Every tool's output is checked
— row count and distinct ids equal the source — before its time counts: a run that fails
or loses rows stops the benchmark with a non-zero exit.

    uv run python benchmarks/ingest.py                        # 1M and 10M rows, 100 and 1000/page
    uv run python benchmarks/ingest.py --rows 100000 --per-page 1000 --tools hakiri,floor

Writes the tables to ``--out`` (markdown) and prints them.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from tempfile import TemporaryDirectory

import pyarrow.compute as pc
import pyarrow.dataset as ds
from _measure import Measurement, measure
from _report import Result, machine_info, render

from hakiri.testing.synthetic import SyntheticServer

HERE = Path(__file__).resolve().parent
HAKIRI = str(Path(sys.executable).with_name("hakiri"))

MANIFEST = """[project]
name = "bench"

[pipelines.issues.source]
connector = "http"
url = "{url}/issues"
params = {{ per_page = {per_page} }}
pagination = {{ kind = "link_header" }}
"""


class BenchmarkError(RuntimeError):
    """A tool failed or its output does not hold the source's rows."""


@dataclass(frozen=True)
class Case:
    url: str
    rows: int
    per_page: int
    workdir: Path
    timeout: float | None


def _checked(tool: str, case: Case, result: Measurement) -> Measurement:
    if result.timed_out:
        raise BenchmarkError(f"{tool}: killed after {case.timeout:.0f} s (--timeout)")
    if result.returncode != 0:
        raise BenchmarkError(
            f"{tool} exited {result.returncode}\nstdout:\n{result.stdout[-2000:]}\n"
            f"stderr:\n{result.stderr[-4000:]}"
        )
    return result


def _check_parquet(tool: str, case: Case, files: list[Path]) -> None:
    """The files hold exactly the source's rows: ``rows`` rows, ``rows`` distinct ids."""
    if not files:
        raise BenchmarkError(f"{tool}: no Parquet file written")
    ids = ds.dataset([str(f) for f in files], format="parquet").to_table(columns=["id"])
    counts = [ids.num_rows, pc.count_distinct(ids.column("id")).as_py()]
    if counts != [case.rows, case.rows]:
        raise BenchmarkError(
            f"{tool}: output holds {counts[0]} rows, {counts[1]} distinct ids; "
            f"the source has {case.rows}"
        )


def run_hakiri(case: Case) -> Measurement:
    """``hakiri run issues`` in a fresh project, then count the table with ``hakiri query``."""
    project = case.workdir
    (project / "hakiri.toml").write_text(MANIFEST.format(url=case.url, per_page=case.per_page))
    result = _checked(
        "hakiri",
        case,
        measure([HAKIRI, "run", "issues", "--json"], cwd=project, timeout=case.timeout),
    )
    sql = "select count(*), count(distinct id) from issues"
    query = measure([HAKIRI, "query", sql, "--format", "json"], cwd=project)
    _checked("hakiri query", case, query)
    rows = json.loads(query.stdout)["rows"]
    if rows != [[case.rows, case.rows]]:
        raise BenchmarkError(f"hakiri: `{sql}` gave {rows}, the source has {case.rows} rows")
    return result


def _run_floor(case: Case, *, prefetch: bool) -> Measurement:
    out = case.workdir / "floor.parquet"
    argv = [sys.executable, str(HERE / "floor.py"), "--out", str(out)]
    argv += ["--url", f"{case.url}/issues?per_page={case.per_page}"]
    tool = "floor-prefetch" if prefetch else "floor"
    result = measure([*argv, "--prefetch"] if prefetch else argv, timeout=case.timeout)
    _checked(tool, case, result)
    _check_parquet(tool, case, [out])
    return result


def _run_dlt(case: Case, *, tuned: bool) -> Measurement:
    argv = [sys.executable, str(HERE / "dlt_run.py"), "--url", f"{case.url}/issues"]
    argv += ["--per-page", str(case.per_page), "--workdir", str(case.workdir)]
    tool = "dlt-tuned" if tuned else "dlt"
    result = measure([*argv, "--tuned"] if tuned else argv, timeout=case.timeout)
    _checked(tool, case, result)
    _check_parquet(tool, case, sorted((case.workdir / "bucket").rglob("issues/*.parquet")))
    return result


TOOLS: dict[str, Callable[[Case], Measurement]] = {
    "hakiri": run_hakiri,
    "floor": lambda case: _run_floor(case, prefetch=False),
    "floor-prefetch": lambda case: _run_floor(case, prefetch=True),
    "dlt": lambda case: _run_dlt(case, tuned=False),
    "dlt-tuned": lambda case: _run_dlt(case, tuned=True),
}
NEEDS = {"dlt": "dlt", "dlt-tuned": "dlt"}
"""The package a tool needs beyond the dev environment (the `bench` dependency group)."""


def _ints(text: str) -> list[int]:
    return [int(part.replace("_", "")) for part in text.split(",") if part]


def _tools(text: str) -> list[str]:
    tools = [t for t in text.split(",") if t]
    unknown = sorted(set(tools) - set(TOOLS))
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown tools {unknown}; known: {sorted(TOOLS)}")
    return tools


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--rows", type=_ints, default=[1_000_000, 10_000_000])
    parser.add_argument("--per-page", type=_ints, default=[100, 1000])
    parser.add_argument(
        "--tools",
        type=_tools,
        default=["hakiri", "floor", "floor-prefetch", "dlt"],
        help=f"comma-separated, from {', '.join(TOOLS)}",
    )
    parser.add_argument("--runs", type=int, default=1, help="runs per tool and case; best wins")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "ingest.md")
    parser.add_argument("--timeout", type=float, default=4 * 3600, help="seconds per tool run")
    parser.add_argument(
        "--tmp", type=Path, default=None, help="where tools write (default: $TMPDIR)"
    )
    return parser.parse_args(argv)


def _missing(tool: str) -> str | None:
    from importlib.util import find_spec

    package = NEEDS.get(tool)
    return package if package is not None and find_spec(package) is None else None


def _best(tool: str, case_rows: int, per_page: int, runs: list[Measurement]) -> Result:
    best = min(runs, key=lambda r: r.seconds)
    peak = max(r.peak_rss_mb for r in runs)
    return Result(case_rows, per_page, tool, best.seconds, peak)


def bench(args: argparse.Namespace) -> tuple[list[Result], list[str]]:
    results: list[Result] = []
    notes: list[str] = []
    tools = []
    for tool in args.tools:
        package = _missing(tool)
        if package is None:
            tools.append(tool)
        else:
            notes.append(
                f"`{tool}` skipped: `{package}` is not installed "
                "(`uv sync --all-groups` installs the `bench` group)."
            )
    for rows in args.rows:
        for per_page in args.per_page:
            with SyntheticServer(rows) as server:
                for tool in tools:
                    runs = []
                    for _ in range(args.runs):
                        with TemporaryDirectory(prefix=f"bench-{tool}-", dir=args.tmp) as tmp:
                            case = Case(server.url, rows, per_page, Path(tmp), args.timeout)
                            runs.append(TOOLS[tool](case))
                    result = _best(tool, rows, per_page, runs)
                    results.append(result)
                    print(
                        f"{rows:>12,} rows {per_page:>5}/page {tool:<15} "
                        f"{result.seconds:8.2f} s {result.rows_per_second:>10,.0f} rows/s "
                        f"{result.peak_rss_mb:6.0f} MB",
                        file=sys.stderr,
                        flush=True,
                    )
    return results, notes


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.runs < 1:
        raise SystemExit("--runs must be >= 1")
    try:
        results, notes = bench(args)
    except BenchmarkError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    argv = sys.argv[1:] if argv is None else argv
    report = render(results, notes, machine_info(), runs=args.runs, argv=argv)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(report, encoding="utf-8")
    print(report)
    print(f"written to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
