"""The daemon soak benchmark, CI-sized: one minute of ``hakiri serve`` running a pipeline
scheduled every 5 s while a client polls. Every run succeeds and reads every row, every client
call answers right, the RSS does not grow by 20 MB after warm-up and the daemon drains and
exits 0. Durations are not asserted — they belong to benchmarks/ (10 minutes: the README)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
ROWS = 500


def test_a_one_minute_soak_leaks_nothing_and_fails_no_run(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "daemon_soak.py"), "--minutes", "1"]
        + ["--rows", str(ROWS), "--tmp", str(tmp_path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=240,
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["ok"] is True and result["problems"] == []
    assert result["runs_failed"] == 0
    # The warm-up takes 5 runs; at least one more ran after it (12 fit in a minute).
    assert result["runs_succeeded"] >= 6
    assert result["rows_read"] == ROWS * result["runs_completed"]
    assert result["growth_mb"] is not None and result["growth_mb"] < 20
    assert result["max_rss_mb"] >= result["rss_after_warmup_mb"] > 0
    assert result["http_calls"] > 0 and result["http_errors"] == 0
    assert result["exit_status"] == 0
    # replace swaps the table: the store does not keep one file per run.
    assert result["store_parquet_files"] < result["runs_completed"]
    assert list(tmp_path.iterdir()) == []  # the benchmark cleaned up after itself
