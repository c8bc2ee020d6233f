"""Idle memory of the daemon profile: ``hakiri-full serve`` on an empty project, installed
from the wheels ``uv build --all-packages`` makes (budget: 180 MB RSS).

The wheels are built into a temporary directory and ``hakiri-full`` is installed from them
into a fresh environment, the way a user gets it (``hakiri.testing.wheels`` says how the
Hakiri distributions are kept off any index: PyPI may hold a project of the same name):

- ``--via venv`` (default): a fresh venv, third-party dependencies at the versions in
  uv.lock, the Hakiri wheels with ``uv pip install --no-index --find-links DIST``; every
  installed Hakiri file is checked byte for byte against the wheels. Bytecode is compiled at
  install, as pip does, so the figure is the steady state, not a first start.
- ``--via uvx``: ``uvx --from DIST/hakiri_full-*.whl --with DIST/<each hakiri wheel> hakiri-full
  serve`` (bytecode compiled too). uv stays resident as the daemon's parent, so its own RSS
  is reported too.

The daemon serves a project with a ``[project]`` table and no pipeline; after ``/healthz``
answers and ``--settle`` seconds pass, VmRSS (and PSS/USS from ``smaps_rollup``) is sampled
``--samples`` times. Then a pipeline (two CSV rows) is added, run through the API and queried,
and the RSS after that is reported as well (not budgeted: the daemon is no longer idle, it
holds Arrow, the connector and DuckDB).

    uv run python benchmarks/idle_rss.py
    uv run python benchmarks/idle_rss.py --via uvx

Prints one JSON line; exits 1 when the idle RSS is over ``--budget-mb``.
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
from pathlib import Path

from hakiri.testing.daemon import DaemonProcess
from hakiri.testing.project import write_manifest
from hakiri.testing.wheels import (
    build_wheels,
    distribution_sizes,
    export_constraints,
    install_profile,
    not_from_wheels,
    site_packages,
    uvx_command,
    wheel_closure,
)

ROOT = Path(__file__).resolve().parents[1]
APP = "hakiri-full"
BUDGET_MB = 180
MIB = 1024 * 1024


def _kib_fields(path: Path, names: tuple[str, ...]) -> dict[str, int]:
    """``Name:  123 kB`` lines of a /proc file, in KiB."""
    fields = {}
    for line in path.read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in names:
            fields[key] = int(rest.split()[0])
    return fields


def memory(pid: int) -> dict[str, float]:
    """RSS, PSS and USS (private pages) of ``pid`` now, in MB."""
    status = _kib_fields(Path(f"/proc/{pid}/status"), ("VmRSS",))
    rollup = _kib_fields(
        Path(f"/proc/{pid}/smaps_rollup"), ("Pss", "Private_Clean", "Private_Dirty")
    )
    return {
        "rss": status["VmRSS"] / 1024,
        "pss": rollup["Pss"] / 1024,
        "uss": (rollup["Private_Clean"] + rollup["Private_Dirty"]) / 1024,
    }


def children(pid: int) -> list[int]:
    """Direct children of ``pid`` (every thread's list; Linux ``/proc``)."""
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(c) for c in (task / "children").read_text().split()]
    return found


def daemon_pid(daemon: DaemonProcess, via: str) -> int:
    """The Python process serving: the script itself, or uv's child under uvx."""
    if via == "venv":
        return daemon.pid
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        kids = children(daemon.pid)
        if kids:
            return kids[0]
        time.sleep(0.1)
    raise SystemExit(f"uvx started no child process:\n{daemon.log()}")


def tree_size(path: Path) -> int:
    """Apparent size in bytes of every file under ``path`` (``du --apparent-size``)."""
    return sum(
        (Path(base) / name).lstat().st_size for base, _, names in os.walk(path) for name in names
    )


def prepare(args: argparse.Namespace, tmp: Path) -> tuple[list[str], Path | None, float]:
    """Wheels and the environment: (the command before ``serve``, the venv if known yet,
    seconds the install took)."""
    dist = args.dist or tmp / "dist"
    wheels = build_wheels(ROOT, dist) if args.dist is None else _wheels_in(dist)
    ours = [wheels[name] for name in wheel_closure(wheels, APP)]
    started = time.perf_counter()
    if args.via == "uvx":
        constraints = export_constraints(ROOT, APP, tmp / "constraints.txt")
        command = uvx_command(
            ROOT, wheels, APP, constraints=constraints, compile_bytecode=not args.no_compile
        )
        return command, None, time.perf_counter() - started
    venv = tmp / "venv"
    install_profile(ROOT, venv, wheels, APP, compile_bytecode=not args.no_compile)
    seconds = time.perf_counter() - started
    problems = not_from_wheels(venv, ours)
    if problems:
        listing = "\n".join(problems)
        raise SystemExit(f"installed files do not come from the built wheels:\n{listing}")
    return [str(venv / "bin" / APP)], venv, seconds


def _wheels_in(dist: Path) -> dict[str, Path]:
    return {
        w.name.split("-", 1)[0].replace("_", "-").lower(): w for w in sorted(dist.glob("*.whl"))
    }


def busy_rss(daemon: DaemonProcess, pid: int) -> float:
    """RSS once the daemon has served a run and a query (a pipeline is added to the
    manifest, which the API reads per request): Arrow, the connector and DuckDB loaded."""
    project = daemon.project
    (project / "sample.csv").write_text("id,name\n1,one\n2,two\n", encoding="utf-8")
    with (project / "hakiri.toml").open("a", encoding="utf-8") as manifest:
        manifest.write('\n[pipelines.sample.source]\nconnector = "file"\npath = "sample.csv"\n')
    started = daemon.post("/v1/pipelines/sample/runs")
    if started.status != 202:
        raise SystemExit(f"the sample run did not start: {started}\n{daemon.log()}")
    run = daemon.wait_run(started.json()["run_id"])
    answer = daemon.post("/v1/query", {"sql": "select count(*) as n from sample"})
    if run["status"] != "succeeded" or answer.status != 200:
        raise SystemExit(f"sample run {run} / query {answer} failed:\n{daemon.log()}")
    time.sleep(1.0)
    return memory(pid)["rss"]


def measure(args: argparse.Namespace, tmp: Path) -> dict[str, object]:
    command, venv, install_seconds = prepare(args, tmp)
    executable = command[0]
    if len(command) > 1:
        # DaemonProcess runs one executable: uvx and its options go in a wrapper.
        wrapper = tmp / APP
        wrapper.write_text(f'#!/bin/sh\nexec {shlex.join(command)} "$@"\n')
        wrapper.chmod(0o755)
        executable = str(wrapper)
    project = tmp / "project"
    write_manifest(project, "", name="idle")
    daemon = DaemonProcess(project, executable=executable, log_path=tmp / "serve.log")
    with daemon:
        pid = daemon_pid(daemon, args.via)
        if venv is None:  # uvx: its environment is where the daemon's python lives
            venv = Path(Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].decode())
            venv = venv.parent.parent
        time.sleep(args.settle)
        samples = []
        for _ in range(args.samples):
            samples.append(memory(pid))
            time.sleep(args.interval)
        parent = memory(daemon.pid) if args.via == "uvx" else None
        busy = busy_rss(daemon, pid)
        status = daemon.stop()
    sizes = distribution_sizes(venv)
    largest = sorted(sizes.items(), key=lambda item: -item[1])[:8]
    rss = [s["rss"] for s in samples]
    result: dict[str, object] = {
        "benchmark": "idle_rss",
        "profile": APP,
        "via": args.via,
        "command": f"{shlex.join(command)} serve -p PROJECT --host 127.0.0.1 --port PORT",
        "rss_mb": round(statistics.median(rss), 1),
        "rss_mb_max": round(max(rss), 1),
        "pss_mb": round(statistics.median(s["pss"] for s in samples), 1),
        "uss_mb": round(statistics.median(s["uss"] for s in samples), 1),
        "budget_mb": args.budget_mb,
        "within_budget": max(rss) <= args.budget_mb,
        "after_run_and_query_rss_mb": round(busy, 1),
        "exit_status": status,
        "install_seconds": round(install_seconds, 1),
        "site_packages_mb": round(tree_size(site_packages(venv)) / MIB, 1),
        "distributions": len(sizes),
        "largest_mb": {name: round(size / MIB, 1) for name, size in largest},
        "settle_seconds": args.settle,
        "samples": args.samples,
        "python": platform.python_version(),
        "cores": os.cpu_count(),
    }
    if parent is not None:
        result["uv_parent_rss_mb"] = round(parent["rss"], 1)
        result["total_rss_mb"] = round(max(rss) + parent["rss"], 1)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--via", choices=("venv", "uvx"), default="venv")
    parser.add_argument("--settle", type=float, default=5.0, help="seconds idle before sampling")
    parser.add_argument("--samples", type=int, default=5)
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between samples")
    parser.add_argument("--budget-mb", type=float, default=BUDGET_MB)
    parser.add_argument("--dist", type=Path, help="use the wheels in DIST instead of building")
    parser.add_argument(
        "--no-compile", action="store_true", help="do not compile bytecode at install"
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args()
    if args.keep:
        tmp = Path(tempfile.mkdtemp(prefix="hakiri-idle-rss-"))
        print(f"keeping {tmp}", file=sys.stderr)
        result = measure(args, tmp)
    else:
        with tempfile.TemporaryDirectory(prefix="hakiri-idle-rss-") as name:
            result = measure(args, Path(name))
    print(json.dumps(result))
    if not result["within_budget"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
