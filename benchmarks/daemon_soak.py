"""Soak the daemon: a schedule that fires every few seconds, a client polling, RSS sampled.

``hakiri serve`` (a subprocess, ``hakiri.testing.daemon.DaemonProcess``) serves a project
whose one pipeline reads ``--rows`` issues from the demo API on 127.0.0.1 (in this process)
with ``write = "replace"``, on ``schedule = "every {--interval}s"``: every run reads every
row again, writes a new Parquet file and swaps the table. While it runs for ``--minutes``,
every ``--sample-seconds`` this script samples the daemon's RSS and does what a client
would: ``GET /v1/pipelines``, ``POST /v1/query`` (a count that must equal ``--rows``: no run
is ever half visible) and ``GET /v1/runs`` (which also tallies the runs).

Memory is judged after a warm-up of ``--warmup-runs`` completed runs (imports, Arrow and
DuckDB buffers, allocator pools): *after warm-up* is the median of the first three samples
taken after it, *end* the median of the last three, growth their difference, max the
largest sample of the whole soak.

    uv run python benchmarks/daemon_soak.py                  # 10 minutes
    uv run python benchmarks/daemon_soak.py --minutes 1      # the CI smoke test's size

Prints one JSON line; exits 1 when the RSS grew by ``--max-growth-mb`` (20) or more, a run
failed, a client call failed or the daemon did not exit 0 after draining.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hakiri.testing.daemon import DaemonProcess
from hakiri.testing.demo_api import DemoApi
from hakiri.testing.project import write_manifest

PIPELINE = "issues"
MAX_GROWTH_MB = 20.0
MEDIAN_OF = 3
"""Samples whose median is one RSS reading (a run in flight at one sample is not a leak)."""
FAILED = ("failed", "partial_failure")
IN_FLIGHT = ("running", "starting")


@dataclass
class Soak:
    """What the soak saw, gathered as it goes."""

    rows: int
    runs: dict[str, dict[str, Any]] = field(default_factory=dict)
    """run_id -> the latest record of that run seen through ``GET /v1/runs``."""
    samples: list[tuple[float, float]] = field(default_factory=list)
    """(seconds since start, RSS MB)."""
    warmup_at: float | None = None
    """Seconds since start when ``--warmup-runs`` runs had completed."""
    calls: int = 0
    errors: list[str] = field(default_factory=list)
    """Client calls that failed or answered wrong."""
    exit_status: int | None = None
    log_tail: str = ""
    parquet_files: int = 0
    parquet_mb: float = 0.0
    """The store at the end: replace must not leave old files behind."""

    def completed(self) -> list[dict[str, Any]]:
        return [r for r in self.runs.values() if r["status"] not in IN_FLIGHT]

    def failed(self) -> list[dict[str, Any]]:
        return [r for r in self.runs.values() if r["status"] in FAILED]

    def short(self) -> list[dict[str, Any]]:
        """Succeeded runs that did not read every row (a run must do real work)."""
        return [
            r for r in self.runs.values() if r["status"] == "succeeded" and r["rows"] != self.rows
        ]


def manifest(url: str, args: argparse.Namespace) -> str:
    return f"""
[pipelines.{PIPELINE}]
schedule = "every {args.interval}s"

[pipelines.{PIPELINE}.source]
connector = "http"
url = "{url}/issues"
params = {{ style = "link", per_page = {args.per_page} }}
pagination = {{ kind = "link_header" }}

[pipelines.{PIPELINE}.destination]
write = "replace"
"""


def client_round(daemon: DaemonProcess, soak: Soak) -> None:
    """The calls a client makes each interval; a wrong answer is recorded, not raised."""

    def call(method: str, path: str, body: Any = None) -> Any:
        soak.calls += 1
        try:
            answer = daemon.request(method, path, body, timeout=30)
        except OSError as exc:  # a hang or a refused connection: the daemon is unwell
            soak.errors.append(f"{method} {path}: {exc!r}")
            return None
        if answer.status != 200:
            soak.errors.append(f"{method} {path}: {answer.status} {answer.body[:300]!r}")
            return None
        return answer.json()

    call("GET", "/v1/pipelines")
    sql = f"select count(*) as n, count(distinct id) as ids from {PIPELINE}"
    counted = call("POST", "/v1/query", {"sql": sql})
    if counted is not None and counted["rows"] != [[soak.rows, soak.rows]]:
        soak.errors.append(f"{sql} gave {counted['rows']}, expected {soak.rows} rows")
    listed = call("GET", f"/v1/runs?pipeline={PIPELINE}&limit=20")
    for run in (listed or {}).get("runs", []):
        soak.runs[run["run_id"]] = run


def wait_first_run(daemon: DaemonProcess, soak: Soak, timeout: float) -> None:
    """Until the schedule's first run has finished, so the table exists to query."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = daemon.get(f"/v1/runs?pipeline={PIPELINE}&limit=5").json()["runs"]
        for run in runs:
            soak.runs[run["run_id"]] = run
        if soak.completed():
            return
        time.sleep(0.5)
    raise SystemExit(f"no scheduled run finished within {timeout:.0f}s:\n{daemon.log()[-4000:]}")


def run_soak(args: argparse.Namespace, tmp: Path) -> Soak:
    """Serve, sample and poll for ``--minutes``."""
    soak = Soak(rows=args.rows)
    with DemoApi(issues=args.rows) as api:
        project = tmp / "project"
        write_manifest(project, manifest(api.url, args), name="soak")
        daemon = DaemonProcess(project, log_path=tmp / "serve.log")
        with daemon:
            started = time.monotonic()
            wait_first_run(daemon, soak, timeout=args.interval * 4 + 60)
            end = started + args.minutes * 60
            while (now := time.monotonic()) < end:
                soak.samples.append((now - started, daemon.rss_kib() / 1024))
                client_round(daemon, soak)
                if soak.warmup_at is None and len(soak.completed()) >= args.warmup_runs:
                    soak.warmup_at = time.monotonic() - started
                time.sleep(max(0.0, min(args.sample_seconds, end - time.monotonic())))
            soak.samples.append((time.monotonic() - started, daemon.rss_kib() / 1024))
            client_round(daemon, soak)  # the last runs' final records
            soak.exit_status = daemon.stop()
        soak.log_tail = daemon.log()[-4000:]
        files = list((project / ".hakiri").rglob("*.parquet"))
        soak.parquet_files = len(files)
        soak.parquet_mb = sum(f.stat().st_size for f in files) / 1024**2
    return soak


def rss_figures(soak: Soak) -> dict[str, float | None]:
    """After warm-up, end, growth and max RSS in MB (None: the soak ended in its warm-up)."""
    rss = [mb for _, mb in soak.samples]
    after = [mb for t, mb in soak.samples if soak.warmup_at is not None and t >= soak.warmup_at]
    figures: dict[str, float | None] = {
        "rss_start_mb": round(rss[0], 1),
        "rss_after_warmup_mb": None,
        "rss_end_mb": round(statistics.median(rss[-MEDIAN_OF:]), 1),
        "growth_mb": None,
        "max_rss_mb": round(max(rss), 1),
    }
    if len(after) >= MEDIAN_OF:
        baseline = statistics.median(after[:MEDIAN_OF])
        end = statistics.median(after[-MEDIAN_OF:])
        figures["rss_after_warmup_mb"] = round(baseline, 1)
        figures["rss_end_mb"] = round(end, 1)
        figures["growth_mb"] = round(end - baseline, 1)
    return figures


def by_minute(soak: Soak) -> list[float]:
    """The RSS (MB) of the first sample in each minute: the curve, for the eye."""
    seen: dict[int, float] = {}
    for t, mb in soak.samples:
        seen.setdefault(int(t // 60), round(mb, 1))
    return [seen[minute] for minute in sorted(seen)]


def report(soak: Soak, args: argparse.Namespace, argv: list[str]) -> dict[str, Any]:
    figures = rss_figures(soak)
    growth = figures["growth_mb"]
    completed = soak.completed()
    problems = list(soak.errors)
    if soak.exit_status != 0:
        problems.append(f"hakiri serve exited {soak.exit_status} after SIGTERM")
    if growth is None:
        problems.append(f"fewer than {args.warmup_runs} runs + {MEDIAN_OF} samples: no growth")
    elif growth >= args.max_growth_mb:
        problems.append(f"RSS grew {growth} MB (limit {args.max_growth_mb} MB)")
    problems += [f"run {r['run_id']} {r['status']}: {r.get('error')}" for r in soak.failed()]
    problems += [f"run {r['run_id']} read {r['rows']} rows, not {args.rows}" for r in soak.short()]
    return {
        "benchmark": "daemon_soak",
        "command": shlex.join(["python", "benchmarks/daemon_soak.py", *argv]),
        "minutes": args.minutes,
        "schedule": f"every {args.interval}s",
        "rows_per_run": args.rows,
        "write": "replace",
        "runs_completed": len(completed),
        "runs_succeeded": sum(1 for r in completed if r["status"] == "succeeded"),
        "runs_failed": len(soak.failed()),
        "rows_read": sum(r["rows"] or 0 for r in completed),
        "warmup_runs": args.warmup_runs,
        "warmup_seconds": None if soak.warmup_at is None else round(soak.warmup_at, 1),
        **figures,
        "max_growth_mb": args.max_growth_mb,
        "samples": len(soak.samples),
        "store_parquet_files": soak.parquet_files,
        "store_parquet_mb": round(soak.parquet_mb, 2),
        "rss_mb_by_minute": by_minute(soak),
        "http_calls": soak.calls,
        "http_errors": len(soak.errors),
        "exit_status": soak.exit_status,
        "ok": not problems,
        "problems": problems[:20],
        "python": platform.python_version(),
        "cores": os.cpu_count(),
    }


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--minutes", type=float, default=10.0, help="how long to soak")
    parser.add_argument("--interval", type=int, default=5, help="schedule: every N seconds")
    parser.add_argument("--rows", type=int, default=500, help="rows every run reads")
    parser.add_argument("--per-page", type=int, default=100, help="rows per page")
    parser.add_argument("--sample-seconds", type=float, default=5.0, help="RSS + client period")
    parser.add_argument("--warmup-runs", type=int, default=5, help="runs before the baseline")
    parser.add_argument("--max-growth-mb", type=float, default=MAX_GROWTH_MB)
    parser.add_argument("--tmp", type=Path, default=None, help="directory for the project")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    raw = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(raw)
    with tempfile.TemporaryDirectory(prefix="hakiri-soak-", dir=args.tmp) as tmp:
        soak = run_soak(args, Path(tmp))
    result = report(soak, args, raw)
    print(json.dumps(result))
    if not result["ok"]:
        print(f"daemon log (tail):\n{soak.log_tail}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
