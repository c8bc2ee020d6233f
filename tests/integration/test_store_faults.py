"""Filesystem faults in the middle of a run: the store's disk fills up, or it turns read-only.

The store lives on a small tmpfs mounted for the test (root only: it is skipped elsewhere).
A run is paused on a page, the fault is injected, the run goes on and fails: it must print
one ``error[code]`` line, end ``partial_failure`` (it had committed chunks) with the real
cause recorded — even when the catalog, on the same full disk, could not take it then —
and after the fault is removed the next run must resume exactly: every row once.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hakiri.testing.cli import run_hakiri, spawn_hakiri
from hakiri.testing.demo_api import DemoApi
from hakiri.testing.project import write_manifest

ISSUES = 95
PER_PAGE = 10

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="mounting a tmpfs needs root")


@pytest.fixture
def api() -> Iterator[DemoApi]:
    with DemoApi(issues=ISSUES) as server:
        yield server


@pytest.fixture
def project(tmp_path: Path, api: DemoApi) -> Iterator[Path]:
    store = tmp_path / ".hakiri"
    store.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(store)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    write_manifest(
        tmp_path,
        f"""[pipelines.issues]
chunk_rows = 20
prefetch_pages = 0

[pipelines.issues.source]
connector = "http"
url = "{api.url}/issues"
params = {{ style = "link", per_page = {PER_PAGE} }}
pagination = {{ kind = "link_header" }}
""",
    )
    try:
        yield tmp_path
    finally:
        subprocess.run(["umount", "-l", str(store)], check=False)


def _runs(project: Path) -> list[dict[str, Any]]:
    described = run_hakiri("pipeline", "describe", "issues", "--json", cwd=project).check().json()
    runs: list[dict[str, Any]] = described["runs"]
    return runs


def _fault_mid_run(project: Path, api: DemoApi, inject: Any, undo: Any) -> dict[str, Any]:
    api.hold_page(5)
    proc = spawn_hakiri("run", "issues", cwd=project)
    try:
        if not api.wait_held(timeout=60):
            proc.kill()
            out, err = proc.communicate()
            raise AssertionError(f"the run never reached page 5: {out!r} {err!r}")
        inject()
        api.release()
        _, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    lines = stderr.strip().splitlines()
    assert proc.returncode not in (0, None) and proc.returncode > 0, proc.returncode
    assert len(lines) == 1 and lines[0].startswith("error["), lines
    undo()
    resumed = run_hakiri("run", "issues", "--json", cwd=project).check().json()
    assert resumed["status"] == "succeeded"
    counts = run_hakiri(
        "query", "select count(*), count(distinct id) from issues", "--format", "json", cwd=project
    ).check()
    assert counts.json()["rows"] == [[ISSUES, ISSUES]]
    failed = _runs(project)[1]
    return {"line": lines[0], "run": failed, "resumed": resumed}


def test_a_disk_filled_mid_run(project: Path, api: DemoApi) -> None:
    filler = project / ".hakiri" / "filler"

    def fill() -> None:
        with filler.open("wb") as out:
            try:
                while True:
                    out.write(b"\0" * 65536)
                    out.flush()
            except OSError:
                pass

    outcome = _fault_mid_run(project, api, fill, lambda: filler.unlink())
    assert outcome["line"].startswith(("error[store_full]", "error[catalog_error]")), outcome
    run = outcome["run"]
    assert run["status"] == "partial_failure", run  # chunks 1-2 were committed
    assert run["error"]["code"] in ("store_full", "catalog_error"), run
    assert "space" in run["error"]["message"] or "full" in run["error"]["message"], run


def test_a_store_turned_read_only_mid_run(project: Path, api: DemoApi) -> None:
    # The data directory becomes a read-only bind mount of itself: new files cannot be
    # created there (EROFS) while the catalog beside it stays writable.
    context = str(project / ".hakiri" / "context")

    def protect() -> None:
        subprocess.run(["mount", "--bind", context, context], check=True)
        for _ in range(5):  # a busy mount table can refuse once: retry, bounded
            done = subprocess.run(["mount", "-o", "remount,bind,ro", context], capture_output=True)
            if done.returncode == 0:
                return
            time.sleep(0.2)
        raise AssertionError(f"cannot make {context} read-only: {done.stderr!r}")

    outcome = _fault_mid_run(
        project, api, protect, lambda: subprocess.run(["umount", context], check=True)
    )
    assert outcome["line"].startswith("error[store_unwritable]: cannot write the store"), outcome
    run = outcome["run"]
    assert run["status"] == "partial_failure", run
    assert run["error"]["code"] == "store_unwritable", run
