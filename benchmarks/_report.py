"""The ingest benchmark's markdown: the machine, the command, results and Hakiri's ratios."""

from __future__ import annotations

import os
import platform
import shlex
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

__all__ = ["Result", "machine_info", "render"]

VERSIONS = ("hakiri-runtime", "hakiri-connectors", "pyarrow", "httpx", "orjson", "dlt")


@dataclass(frozen=True)
class Result:
    rows: int
    per_page: int
    tool: str
    seconds: float
    peak_rss_mb: float

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds


def _first_line(path: str, key: str) -> str | None:
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith(key):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def machine_info() -> str:
    """One line: cores, CPU, RAM, OS, Python and the versions that matter."""
    cpu = _first_line("/proc/cpuinfo", "model name") or platform.processor() or "unknown CPU"
    mem_kib = _first_line("/proc/meminfo", "MemTotal")
    ram = f"{int(mem_kib.split()[0]) / 1024**2:.1f} GiB RAM" if mem_kib else "RAM unknown"
    versions = []
    for name in VERSIONS:
        try:
            versions.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            versions.append(f"{name} (not installed)")
    return (
        f"{os.cpu_count()} cores ({cpu}), {ram}, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}; " + ", ".join(versions)
    )


def _ratio(numerator: Result | None, denominator: Result | None) -> str:
    if numerator is None or denominator is None:
        return "—"
    return f"{numerator.rows_per_second / denominator.rows_per_second:.2f}×"


def render(
    results: list[Result], notes: list[str], machine: str, *, runs: int, argv: list[str]
) -> str:
    """The report: header, one row per (case, tool), then Hakiri's ratio to each other tool."""
    command = shlex.join(["python", sys.argv[0], *argv])
    lines = [
        "# Ingest benchmark",
        "",
        f"- command: `{command}`",
        f"- date: {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}",
        f"- machine: {machine}",
        "- source: `hakiri.testing.synthetic` on 127.0.0.1 (its own process), GitHub-issue-like"
        " records of ~770 bytes of JSON",
        f"- wall time and peak RSS of each tool's process, measured from outside (wait4); "
        f"best of {runs} run(s), peak RSS the highest seen",
        "",
        "| rows | rows/page | tool | wall s | rows/s | peak RSS MB |",
        "|---:|---:|---|---:|---:|---:|",
    ]
    lines += [
        f"| {r.rows:,} | {r.per_page:,} | {r.tool} | {r.seconds:.2f} | "
        f"{r.rows_per_second:,.0f} | {r.peak_rss_mb:.0f} |"
        for r in results
    ]
    others = [t for t in dict.fromkeys(r.tool for r in results) if t != "hakiri"]
    if any(r.tool == "hakiri" for r in results) and others:
        lines += ["", "| rows | rows/page | " + " | ".join(f"hakiri/{t}" for t in others) + " |"]
        lines.append("|---:|---:|" + "---:|" * len(others))
        cases = dict.fromkeys((r.rows, r.per_page) for r in results)
        by_key = {(r.rows, r.per_page, r.tool): r for r in results}
        for rows, per_page in cases:
            hakiri = by_key.get((rows, per_page, "hakiri"))
            ratios = [_ratio(hakiri, by_key.get((rows, per_page, t))) for t in others]
            lines.append(f"| {rows:,} | {per_page:,} | " + " | ".join(ratios) + " |")
    if notes:
        lines += ["", *(f"- {note}" for note in notes)]
    return "\n".join(lines) + "\n"
