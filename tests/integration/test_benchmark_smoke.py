"""The ingest benchmark, CI-sized: it runs, every tool lands every row, Hakiri's output is
byte-for-byte reproducible. Correctness only — timings belong to benchmarks/, not here."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from importlib.util import find_spec
from pathlib import Path

from hakiri.testing.cli import run_hakiri
from hakiri.testing.project import write_manifest
from hakiri.testing.synthetic import SyntheticServer

REPO = Path(__file__).resolve().parents[2]
ROWS = 50_000
PER_PAGE = 1000


def _table_rows(report: str) -> dict[str, list[str]]:
    """The results table of the report: tool -> its cells."""
    rows = {}
    for line in report.splitlines():
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        if len(cells) == 6 and cells[0].replace(",", "").isdigit():
            rows[cells[2]] = cells
    return rows


def test_the_harness_runs_every_tool_on_the_same_rows(tmp_path: Path) -> None:
    tools = ["hakiri", "floor", "floor-prefetch"]
    if find_spec("dlt") is not None:  # the `bench` group; `make test` leaves it out
        tools.append("dlt")
    out = tmp_path / "ingest.md"
    proc = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "ingest.py"), "--out", str(out)]
        + ["--rows", str(ROWS), "--per-page", str(PER_PAGE), "--tools", ",".join(tools)]
        + ["--tmp", str(tmp_path), "--timeout", "200"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=240,
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 0, proc.stderr
    report = out.read_text()
    assert proc.stdout.strip() == report.strip()  # printed and written alike
    table = _table_rows(report)
    assert sorted(table) == sorted(tools)
    for cells in table.values():
        assert cells[:2] == ["50,000", "1,000"]
    assert "hakiri/floor" in report  # the ratios table
    assert "2 cores" in report or "cores (" in report  # the machine line


def _parquet_digests(project: Path) -> list[str]:
    files = sorted((project / ".hakiri" / "context" / "issues").glob("*.parquet"))
    return sorted(hashlib.sha256(f.read_bytes()).hexdigest() for f in files)


def test_hakiri_writes_byte_identical_files_for_the_same_input(tmp_path: Path) -> None:
    with SyntheticServer(ROWS) as server:
        digests = []
        for name in ("first", "second"):
            project = tmp_path / name
            write_manifest(
                project,
                f"""[pipelines.issues.source]
connector = "http"
url = "{server.url}/issues"
params = {{ per_page = {PER_PAGE} }}
pagination = {{ kind = "link_header" }}
""",
            )
            assert run_hakiri("run", "issues", "--json", cwd=project).check().json()["rows"] == ROWS
            digests.append(_parquet_digests(project))
    assert digests[0]
    assert digests[0] == digests[1]
    # Nested JSON stays nested: objects are Parquet structs, arrays are lists.
    types = run_hakiri(
        "query",
        'select typeof("user"), typeof(labels), typeof(reactions) from issues limit 1',
        "--format",
        "json",
        cwd=tmp_path / "first",
    ).check()
    user, labels, reactions = types.json()["rows"][0]
    assert user.startswith("STRUCT(") and "login" in user
    assert labels.startswith("STRUCT(") and labels.endswith("[]")
    assert reactions.startswith("STRUCT(")


def test_the_catalog_commit_benchmark_runs_every_mode_on_both_backends(tmp_path: Path) -> None:
    out = tmp_path / "catalog_commits.md"
    proc = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "catalog_commits.py"), "--out", str(out)]
        + ["--commits", "24", "--processes", "3"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=240,
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 0, proc.stderr
    report = out.read_text()
    assert proc.stdout == report  # printed and written alike
    rows = [
        [cell.strip() for cell in line.strip("|").split("|")]
        for line in report.splitlines()
        if line.startswith(("| sqlite |", "| postgres |"))
    ]
    modes = ["sequential", "3 pipelines", "1 pipeline, CAS"]
    assert [(r[0], r[1]) for r in rows] == [(b, m) for b in ("sqlite", "postgres") for m in modes]
    assert all(r[3] == "24" for r in rows)  # every process landed its share of the commits
    assert "cores (" in report  # the machine line
