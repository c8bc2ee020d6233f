"""An AWS-Lambda-layer-shaped install of ``hakiri-core`` alone, and a fresh interpreter that
sees nothing else — for the layer test and ``benchmarks/core_layer.py``.

A Lambda layer is a zip whose ``python/`` directory lands on ``sys.path``. ``install_layer``
builds the hakiri-core wheel from the workspace (``uv build --no-sources``) and installs it
into ``LAYER/python`` with ``uv pip install --target`` (the dev environment holds no pip;
uv's ``--target`` is pip's), third-party versions held to ``uv.lock``, bytecode compiled as
pip does (a layer is read-only: what is not compiled there is compiled at every cold start).
``run_in_layer`` runs code under ``python -I -S`` with only that directory added to
``sys.path``: no site-packages, no user site, no environment variables, no current directory.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from hakiri.testing.wheels import export_constraints, uv

__all__ = [
    "DUE_PROBE",
    "build_core_wheel",
    "install_layer",
    "layer_size",
    "probe_due",
    "run_in_layer",
]

DUE_PROBE = textwrap.dedent(
    """
    import importlib.util, json, sys, time
    from datetime import datetime
    from pathlib import Path

    args = json.loads(sys.argv[1])
    started = time.perf_counter()
    from hakiri.core.due import due_pipelines
    from hakiri.core.manifest import load_project
    imported = time.perf_counter()
    project = load_project(Path(args["project"]))
    last_runs = {name: datetime.fromisoformat(t) for name, t in args["last_runs"].items()}
    due = due_pipelines(project, last_runs, datetime.fromisoformat(args["now"]))
    decided = time.perf_counter()
    print(json.dumps({
        "due": due,
        "import_ms": (imported - started) * 1000,
        "decide_ms": (decided - imported) * 1000,
        "pyarrow_importable": importlib.util.find_spec("pyarrow") is not None,
        "modules": sorted({m.split(".")[0] for m in sys.modules}),
        "hakiri_core_file": sys.modules["hakiri.core.due"].__file__,
    }))
    """
)
"""Loads a project in the layer and prints the due decision and its timings as JSON."""


def build_core_wheel(root: Path, dist: Path) -> Path:
    """The hakiri-core wheel of the workspace at ``root``, built into ``dist``."""
    uv(root, "build", "--package", "hakiri-core", "--no-sources", "--wheel", "-o", str(dist))
    wheels = sorted(dist.glob("hakiri_core-*.whl"))
    if len(wheels) != 1:
        raise AssertionError(f"expected one hakiri-core wheel in {dist}, found {wheels}")
    return wheels[0]


def install_layer(root: Path, wheel: Path, layer: Path) -> Path:
    """``wheel`` and its dependencies (versions from ``root/uv.lock``) in ``layer/python``,
    as a Lambda layer holds them; returns that directory."""
    target = layer / "python"
    constraints = export_constraints(root, "hakiri-core", layer.parent / "core-constraints.txt")
    uv(
        root,
        "pip",
        "install",
        "--python",
        sys.executable,
        "--target",
        str(target),
        "--constraints",
        str(constraints),
        "--compile-bytecode",
        str(wheel),
    )
    return target


def layer_size(target: Path) -> int:
    """Bytes of every file under ``target`` (the layer unzipped)."""
    return sum(path.stat().st_size for path in target.rglob("*") if path.is_file())


def run_in_layer(
    target: Path, code: str, *args: str, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """``code`` in a fresh ``python -I -S`` whose only addition to ``sys.path`` is ``target``."""
    prelude = f"import sys; sys.path.insert(0, {str(target)!r})\n"
    return subprocess.run(
        [sys.executable, "-I", "-S", "-c", prelude + code, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=True,
    )


def probe_due(
    target: Path, project: Path, last_runs: Mapping[str, datetime], now: datetime
) -> dict[str, Any]:
    """Run ``DUE_PROBE`` in the layer against the project at ``project``."""
    argument = json.dumps(
        {
            "project": str(project),
            "last_runs": {name: when.isoformat() for name, when in last_runs.items()},
            "now": now.isoformat(),
        }
    )
    proc = run_in_layer(target, DUE_PROBE, argument)
    result: dict[str, Any] = json.loads(proc.stdout)
    return result
