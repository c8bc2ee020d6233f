"""``hakiri-core`` alone in an AWS-Lambda-layer-shaped directory decides which pipelines are
due, with no pyarrow anywhere (issue 12, item 4).

The wheel is built from the workspace and installed with ``--target layer/python``; a fresh
``python -I -S`` with only that directory on ``sys.path`` loads a manifest with two scheduled
pipelines and one manual one and runs ``hakiri.core.due.due_pipelines``. The layer's size and
the cold import time are printed (``-s`` shows them); their budgets (25 MB, 150 ms) are
checked by ``benchmarks/core_layer.py``, not here.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from hakiri.testing.layer import build_core_wheel, install_layer, layer_size, probe_due
from hakiri.testing.project import write_manifest

pytestmark = pytest.mark.timeout(600)

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 3, 1, 12, 7, 30, tzinfo=UTC)
ALLOWED = {"hakiri", "pydantic", "pydantic_core", "annotated_types", "typing_extensions"}
"""Top-level packages of the layer's own distributions that the decision may import."""


@pytest.fixture(scope="module")
def layer(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("core_layer")
    wheel = build_core_wheel(ROOT, base / "dist")
    return install_layer(ROOT, wheel, base / "layer")


def _project(root: Path) -> Path:
    write_manifest(
        root,
        """
[pipelines.orders]
source = { connector = "http" }
schedule = "every 15m"

[pipelines.nightly]
source = { connector = "http" }
schedule = "0 3 * * *"

[pipelines.manual]
source = { connector = "http" }
""",
        name="lambda_layer",
    )
    return root


def test_the_layer_decides_what_is_due_without_pyarrow(layer: Path, tmp_path: Path) -> None:
    project = _project(tmp_path / "project")
    last_runs = {"orders": NOW - timedelta(minutes=20), "nightly": NOW - timedelta(hours=2)}
    found = probe_due(layer, project, last_runs, NOW)
    assert found["due"] == ["orders"]
    assert found["hakiri_core_file"].startswith(str(layer) + "/")
    assert found["pyarrow_importable"] is False

    # The nightly pipeline's 03:00 slot has passed since a run yesterday evening.
    yesterday = {"orders": NOW, "nightly": datetime(2026, 2, 28, 20, 0, tzinfo=UTC)}
    assert probe_due(layer, project, yesterday, NOW)["due"] == ["nightly"]

    installed = {path.name for path in layer.iterdir()}
    assert not any(name.startswith("pyarrow") for name in installed), sorted(installed)
    print(
        f"\nhakiri-core layer: {layer_size(layer)} bytes unzipped; "
        f"cold import {found['import_ms']:.1f} ms, decision {found['decide_ms']:.1f} ms"
    )
