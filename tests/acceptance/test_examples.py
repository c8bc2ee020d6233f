"""Every manifest under ``examples/`` loads, and every pipeline in it validates its options."""

from __future__ import annotations

from pathlib import Path

import pytest

from hakiri.core.manifest import load_project
from hakiri.core.plugins import load_connector

EXAMPLES = sorted((Path(__file__).parents[2] / "examples").glob("*/hakiri.toml"))


def test_every_connector_has_an_example() -> None:
    names = {path.parent.name for path in EXAMPLES}
    assert {"http", "github", "file", "s3", "postgres"} <= names


@pytest.mark.parametrize("manifest", EXAMPLES, ids=lambda p: p.parent.name)
def test_example_manifest_is_valid(manifest: Path) -> None:
    # The options are checked against each connector's model without touching a source,
    # a secret or the store (running them needs their servers; each connector's tests do).
    project = load_project(manifest.parent)
    assert project.manifest.pipelines, f"{manifest} defines no pipeline"
    for spec in project.manifest.pipelines.values():
        factory = load_connector(spec.source.connector, kind="source")
        factory.config_model.model_validate(spec.source.options)
