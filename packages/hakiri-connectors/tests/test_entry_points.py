"""The connectors are found through entry points and satisfy the factory port.

The ``context`` destination is hakiri-context's (its tests check its entry point)."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import entry_points

import pytest

from hakiri.connectors._factory import SourceConnector


@pytest.mark.parametrize(
    ("name", "cls", "kind"),
    [(name, SourceConnector, "source") for name in ("http", "github", "file", "s3", "postgres")],
)
def test_entry_point_loads_the_factory(name: str, cls: type, kind: str) -> None:
    (entry,) = [ep for ep in entry_points(group="hakiri.connectors") if ep.name == name]
    factory = entry.load()
    assert isinstance(factory, cls)
    assert factory.name == name
    assert factory.kind == kind
    assert factory.description
    assert factory.config_model.model_json_schema()["additionalProperties"] is False


def test_importing_the_http_connector_is_light() -> None:
    code = (
        "import sys, hakiri.connectors.http; "
        "heavy = [m for m in ('pyarrow', 'urllib3', 'httpx', 'duckdb') if m in sys.modules]; "
        "print(','.join(heavy))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == ""
