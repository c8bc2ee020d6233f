"""``hakiri-core`` as an AWS Lambda layer: its size unzipped and the cold import time of what a
scheduler there needs (budgets: 25 MB, 150 ms; no pyarrow).

The hakiri-core wheel is built from the workspace and installed with its dependencies
(versions from uv.lock, bytecode compiled) into ``LAYER/python``, as a layer holds it
(``hakiri.testing.layer``). Then ``--runs`` fresh interpreters (``python -I -S``, only the layer
on ``sys.path``) each import ``hakiri.core.manifest`` and ``hakiri.core.due`` — timed from the
first import to the last: the cold import — and decide which of a manifest's pipelines are
due (timed separately: the first manifest validation builds pydantic's validators). The
figures are the median and the minimum over the runs; the budget is checked on the median.
As a floor, interleaved interpreters import pydantic and define one model, nothing of Hakiri:
the part of the import time that is pydantic's own.

    uv run python benchmarks/core_layer.py

Prints one JSON line; exits 1 when the layer or the median import is over its budget.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from hakiri.testing.layer import (
    build_core_wheel,
    install_layer,
    layer_size,
    probe_due,
    run_in_layer,
)
from hakiri.testing.project import write_manifest

ROOT = Path(__file__).resolve().parents[1]
BUDGET_MB = 25
BUDGET_IMPORT_MS = 150
MB = 1_000_000
NOW = datetime(2026, 3, 1, 12, 7, 30, tzinfo=UTC)
MANIFEST = """
[pipelines.orders]
source = { connector = "http" }
schedule = "every 15m"

[pipelines.nightly]
source = { connector = "http" }
schedule = "0 3 * * *"
"""

_FLOOR = """
import time
started = time.perf_counter()
from pydantic import BaseModel
class Model(BaseModel):
    name: str
print((time.perf_counter() - started) * 1000)
"""


def _zipped_size(target: Path, archive: Path) -> int:
    """Bytes of the layer zipped as Lambda takes it (``python/`` at the archive's root)."""
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(target.rglob("*")):
            if path.is_file():
                zf.write(path, path.relative_to(target.parent))
    return archive.stat().st_size


def measure(runs: int, tmp: Path) -> dict[str, object]:
    wheel = build_core_wheel(ROOT, tmp / "dist")
    target = install_layer(ROOT, wheel, tmp / "layer")
    project = tmp / "project"
    write_manifest(project, MANIFEST, name="core_layer")
    last_runs = {"orders": NOW - timedelta(minutes=20), "nightly": NOW - timedelta(hours=2)}
    probes, floors = [], []
    for _ in range(runs):  # interleaved, so both see the same machine load
        probes.append(probe_due(target, project, last_runs, NOW))
        floors.append(float(run_in_layer(target, _FLOOR).stdout))
    if any(p["due"] != ["orders"] or p["pyarrow_importable"] for p in probes):
        raise SystemExit(f"the layer's decision is wrong or pyarrow is importable: {probes[0]}")
    imports = [float(p["import_ms"]) for p in probes]
    decisions = [float(p["decide_ms"]) for p in probes]
    size = layer_size(target)
    import_ms = statistics.median(imports)
    return {
        "python": platform.python_version(),
        "runs": runs,
        "layer_bytes": size,
        "layer_mb": round(size / MB, 2),
        "layer_zipped_bytes": _zipped_size(target, tmp / "layer.zip"),
        "distributions": sorted(p.name for p in target.glob("*.dist-info")),
        "import_ms_median": round(import_ms, 1),
        "import_ms_min": round(min(imports), 1),
        "decide_ms_median": round(statistics.median(decisions), 1),
        "pydantic_floor_ms_median": round(statistics.median(floors), 1),
        "pydantic_floor_ms_min": round(min(floors), 1),
        "budget_mb": BUDGET_MB,
        "budget_import_ms": BUDGET_IMPORT_MS,
        "within_budget": size <= BUDGET_MB * MB and import_ms <= BUDGET_IMPORT_MS,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=15, help="fresh interpreters to time")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="hakiri-core-layer-") as tmp:
        result = measure(args.runs, Path(tmp))
    print(json.dumps(result))
    return 0 if result["within_budget"] else 1


if __name__ == "__main__":
    sys.exit(main())
