"""The ``context`` destination is found through its entry point and imports light."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import entry_points

from hakiri.context.destination import ContextConnector


def test_entry_point_loads_the_factory() -> None:
    (entry,) = [ep for ep in entry_points(group="hakiri.connectors") if ep.name == "context"]
    assert entry.dist is not None and entry.dist.name == "hakiri-context"
    factory = entry.load()
    assert isinstance(factory, ContextConnector)
    assert factory.name == "context"
    assert factory.kind == "destination"
    assert factory.description
    assert factory.config_model.model_json_schema()["additionalProperties"] is False


def test_importing_the_destination_is_light() -> None:
    code = (
        "import sys, hakiri.context.destination; "
        "heavy = [m for m in ('pyarrow', 'urllib3', 'httpx', 'duckdb') if m in sys.modules]; "
        "print(','.join(heavy))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == ""
