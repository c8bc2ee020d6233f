"""The example WebAssembly connector against the built-in http connector, and its load time.

Throughput: one synthetic API (``hakiri.testing.synthetic``, its own process on 127.0.0.1)
serves ``--rows`` records in pages of ``--per-page`` with a ``Link`` header. The same
pipeline — Link-header pagination, cursor on ``updated_at`` — runs as ``hakiri run`` in a
fresh project through the built-in ``http`` connector and through the example component
(``examples/connectors/rest_jsonl``, ``connector = "wasm:…"``, its compiled form already in
the cache), measured from the outside (wall time, peak RSS); each run's row count is checked.
The median of ``--runs`` runs counts.

Load: ``load_connector("wasm:…").create(options, host)`` in a fresh Python process (the
public API, what a run does first): *cold* with an empty ``HAKIRI_WASM_CACHE`` (the
component is compiled), *cached* with the entry the cold load left. Median of ``--runs``.

    uv run python benchmarks/wasm_connector.py                     # 20,000 rows, 1000/page
    uv run python benchmarks/wasm_connector.py --rows 100000 --runs 5

Prints a markdown table, then one JSON line with every figure.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from importlib.metadata import version
from pathlib import Path
from typing import Any

from _measure import Measurement, measure
from _report import machine_info

from hakiri.testing.synthetic import SyntheticServer
from hakiri.testing.wasm import build_component

HERE = Path(__file__).resolve().parent
GUEST = HERE.parent / "examples" / "connectors" / "rest_jsonl"
HAKIRI = str(Path(sys.executable).with_name("hakiri"))

HTTP_SOURCE = """connector = "http"
url = "{url}/issues"
params = {{ per_page = {per_page} }}
pagination = {{ kind = "link_header" }}
incremental = {{ cursor_field = "updated_at", param = "since" }}
"""
WASM_SOURCE = """connector = "wasm:{wasm}"
url = "{url}/issues"
per_page = {per_page}
grant = {{ hosts = ["{host}"] }}
"""
MANIFEST = """[project]
name = "bench"

[pipelines.issues.source]
{source}
"""


class BenchmarkError(RuntimeError):
    """A run failed or did not land every row."""


def _component(workdir: Path, host: str) -> Path:
    """The example, built (cached by content), its manifest declaring exactly ``host``."""
    wasm = build_component(GUEST, workdir / "component", name="rest_jsonl")
    manifest = wasm.with_suffix(".toml")
    text = re.sub(r"(?m)^hosts = .*$", f"hosts = {json.dumps([host])}", manifest.read_text())
    manifest.write_text(text)
    return wasm


def _run(source: str, workdir: Path, rows: int, env: dict[str, str]) -> Measurement:
    with tempfile.TemporaryDirectory(prefix="bench-wasm-", dir=workdir) as tmp:
        project = Path(tmp)
        (project / "hakiri.toml").write_text(MANIFEST.format(source=source))
        result = measure([HAKIRI, "run", "issues", "--json"], cwd=project, env=env)
        if result.returncode != 0:
            raise BenchmarkError(f"hakiri run failed:\n{result.stdout}\n{result.stderr[-4000:]}")
        landed = json.loads(result.stdout)["rows"]
        if landed != rows:
            raise BenchmarkError(f"hakiri run landed {landed} rows; the source has {rows}")
        return result


_LOAD_CHILD = """
import json, sys, time
from pathlib import Path
from hakiri.core.plugins import load_connector
from hakiri.testing.host import TestHost
options, host = json.loads(sys.argv[2]), TestHost(Path.cwd())
started = time.perf_counter()
source = load_connector("wasm:" + sys.argv[1], kind="source").create(options, host)
loaded = time.perf_counter() - started
source.close()
print(json.dumps({"seconds": loaded}))
"""


def _load_seconds(wasm: Path, options: dict[str, Any], cache: Path) -> float:
    """Seconds a fresh interpreter takes to create the source (wasmtime's import, the
    component's compile or deserialisation, the manifest and options checks)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HAKIRI_")}
    env["HAKIRI_WASM_CACHE"] = str(cache)
    proc = subprocess.run(
        [sys.executable, "-c", _LOAD_CHILD, str(wasm), json.dumps(options)],
        cwd=wasm.parent,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise BenchmarkError(f"loading the component failed:\n{proc.stderr[-4000:]}")
    return float(json.loads(proc.stdout.splitlines()[-1])["seconds"])


def bench(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HAKIRI_")}
    env["HAKIRI_WASM_CACHE"] = str(workdir / "wasm-cache")
    with SyntheticServer(args.rows) as server:
        host = server.url.removeprefix("http://")
        wasm = _component(workdir, host)
        sources = {
            "http": HTTP_SOURCE.format(url=server.url, per_page=args.per_page),
            "wasm": WASM_SOURCE.format(
                wasm=wasm, url=server.url, per_page=args.per_page, host=host
            ),
        }
        options = {"url": f"{server.url}/issues", "grant": {"hosts": [host]}}
        cold, cached = [], []
        for run in range(args.runs):
            cache = workdir / f"load-cache-{run}"
            cold.append(_load_seconds(wasm, options, cache))
            if not any(cache.glob("*.cwasm")):
                raise BenchmarkError(f"the cold load left no compiled component in {cache}")
            cached.append(_load_seconds(wasm, options, cache))
        _load_seconds(wasm, options, workdir / "wasm-cache")  # the runs below load cached
        runs: dict[str, list[Measurement]] = {name: [] for name in sources}
        for _ in range(args.runs):
            for name, source in sources.items():  # interleaved: drift hits both alike
                runs[name].append(_run(source, workdir, args.rows, env))
    result: dict[str, Any] = {"rows": args.rows, "per_page": args.per_page, "runs": args.runs}
    for name, measured in runs.items():
        seconds = statistics.median(m.seconds for m in measured)
        result[name] = {
            "seconds": round(seconds, 3),
            "rows_per_second": round(args.rows / seconds),
            "peak_rss_mb": round(max(m.peak_rss_mb for m in measured), 1),
        }
    result["wasm_vs_http"] = round(result["http"]["seconds"] / result["wasm"]["seconds"], 3)
    result["load_cold_seconds"] = round(statistics.median(cold), 3)
    result["load_cached_seconds"] = round(statistics.median(cached), 3)
    result["component_mb"] = round(wasm.stat().st_size / 1024**2, 1)
    tools = ", ".join(f"{name} {version(name)}" for name in ("wasmtime", "componentize-py"))
    result["machine"] = f"{machine_info()}, {tools}"
    return result


def render(result: dict[str, Any], command: str) -> str:
    lines = [
        f"`{command}` — {result['machine']}",
        "",
        "| connector | rows | rows/page | wall time (median) | rows/s | peak RSS |",
        "|---|---|---|---|---|---|",
    ]
    for name in ("http", "wasm"):
        r = result[name]
        lines.append(
            f"| {name} | {result['rows']:,} | {result['per_page']} | {r['seconds']:.2f} s "
            f"| {r['rows_per_second']:,} | {r['peak_rss_mb']:.0f} MB |"
        )
    lines += [
        "",
        f"wasm/http throughput: {result['wasm_vs_http']:.2f}; component "
        f"{result['component_mb']} MB; load (create a source in a fresh process): "
        f"cold {result['load_cold_seconds']:.2f} s, cached {result['load_cached_seconds']:.2f} s",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--per-page", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3, help="runs of each; the median counts")
    args = parser.parse_args(argv)
    command = "python benchmarks/wasm_connector.py " + shlex.join(
        sys.argv[1:] if argv is None else argv
    )
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench-wasm-") as tmp:
        result = bench(args, Path(tmp))
    result["benchmark_seconds"] = round(time.perf_counter() - started, 1)
    print(render(result, command))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
