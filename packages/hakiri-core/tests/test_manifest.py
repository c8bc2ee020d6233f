from __future__ import annotations

import json
from pathlib import Path

import pytest

from hakiri.core.errors import ManifestError, UnknownPipeline
from hakiri.core.manifest import load_project, manifest_json_schema
from hakiri.core.records import WriteDisposition

TOML = """[project]
name = "shop"

[pipelines.orders]
description = "Orders"
schedule = "every 15m"

[pipelines.orders.source]
connector = "http"
url = "https://api.example.com/orders"
pagination = { kind = "link_header" }

[pipelines.orders.destination]
table = "orders"
write = "merge"
primary_key = ["id"]
"""


def _project(tmp_path: Path, text: str = TOML) -> Path:
    (tmp_path / "hakiri.toml").write_text(text)
    return tmp_path


def test_loads_pipelines_with_defaults(tmp_path: Path) -> None:
    project = load_project(_project(tmp_path))
    orders = project.pipeline("orders")
    assert orders.name == "orders"
    assert orders.source.connector == "http"
    assert orders.source.options == {
        "url": "https://api.example.com/orders",
        "pagination": {"kind": "link_header"},
    }
    assert orders.destination.write is WriteDisposition.MERGE
    assert orders.table == "orders"
    assert project.store_root == (tmp_path / ".hakiri").resolve()
    assert project.catalog_url.endswith(".hakiri/catalog.db")


def test_toml_and_json_pipeline_files_load_to_the_same_model(tmp_path: Path) -> None:
    root = _project(tmp_path, '[project]\nname = "shop"\n')
    (root / "pipelines").mkdir()
    (root / "pipelines" / "a.toml").write_text(
        '[source]\nconnector = "http"\nurl = "https://x/a"\n[destination]\nwrite = "replace"\n'
    )
    body = {
        "source": {"connector": "http", "url": "https://x/a"},
        "destination": {"write": "replace"},
    }
    (root / "pipelines" / "b.json").write_text(json.dumps(body))
    project = load_project(root)
    a, b = project.pipeline("a"), project.pipeline("b")
    assert a.model_dump(exclude={"name"}) == b.model_dump(exclude={"name"})
    assert project.origins["b"] == root / "pipelines" / "b.json"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (TOML + "\n[pipelines.orders.destination]\n", "invalid TOML"),  # table defined twice
        (
            TOML.replace('write = "merge"', 'write = "upsert"'),
            "hakiri.toml:15: pipelines.orders.destination.write",
        ),
        (
            TOML.replace('table = "orders"', 'tabel = "orders"'),
            "hakiri.toml:14: pipelines.orders.destination.tabel: unknown key",
        ),
        (
            TOML.replace('connector = "http"\n', ""),
            "hakiri.toml:8: pipelines.orders.source.connector: required key is missing",
        ),
        (TOML.replace("pipelines.orders", "pipelines.Orders-2"), "pipeline name 'Orders-2'"),
        (TOML.replace('name = "shop"', 'name = "shop"\nstore = 3'), "hakiri.toml:3: project.store"),
    ],
)
def test_errors_name_file_line_and_key(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(ManifestError) as caught:
        load_project(_project(tmp_path, text))
    assert expected in caught.value.one_line()
    assert "\n" not in caught.value.one_line()


def test_json_pipeline_error_names_its_line(tmp_path: Path) -> None:
    root = _project(tmp_path, '[project]\nname = "shop"\n')
    (root / "pipelines").mkdir()
    (root / "pipelines" / "b.json").write_text(
        '{\n  "source": {"connector": "http"},\n  "destination": {\n    "write": "nope"\n  }\n}\n'
    )
    with pytest.raises(ManifestError, match=r"b\.json:4: pipelines\.b\.destination\.write"):
        load_project(root)


def test_two_pipelines_cannot_write_one_table(tmp_path: Path) -> None:
    text = TOML + '\n[pipelines.other]\nsource.connector = "http"\ndestination.table = "orders"\n'
    with pytest.raises(ManifestError, match="both write table 'orders'"):
        load_project(_project(tmp_path, text))


def test_duplicate_pipeline_across_files(tmp_path: Path) -> None:
    root = _project(tmp_path)
    (root / "pipelines").mkdir()
    (root / "pipelines" / "orders.toml").write_text('[source]\nconnector = "http"\n')
    with pytest.raises(ManifestError, match="already defined"):
        load_project(root)


def test_unknown_pipeline_lists_known(tmp_path: Path) -> None:
    with pytest.raises(UnknownPipeline, match="orderz") as caught:
        load_project(_project(tmp_path)).pipeline("orderz")
    assert caught.value.hint == "pipelines: orders"


def test_locate_points_into_the_manifest(tmp_path: Path) -> None:
    project = load_project(_project(tmp_path))
    assert project.locate("orders", ("source", "url")).endswith("hakiri.toml:10")
    assert project.locate("orders", ("source", "pagination", "kind")).endswith("hakiri.toml:11")


def test_json_schema_export() -> None:
    schema = manifest_json_schema()
    assert schema["title"] == "hakiri.toml"
    assert {"project", "pipelines"} <= set(schema["properties"])
    json.dumps(schema)
