"""``hakiri source discover|sample``: look at a source live, without writing anything."""

from __future__ import annotations

from pathlib import Path

from hakiri.testing.cli import run_hakiri
from hakiri.testing.demo_api import DemoApi
from hakiri.testing.project import write_manifest


def _project(tmp_path: Path, api: DemoApi) -> Path:
    project = tmp_path / "project"
    write_manifest(
        project,
        f"""
[pipelines.issues.source]
connector = "http"
url = "{api.url}/issues"
params = {{ style = "link", per_page = 20 }}
pagination = {{ kind = "link_header" }}
""",
    )
    return project


def test_discover_and_sample_write_nothing(tmp_path: Path, demo_api: DemoApi) -> None:
    project = _project(tmp_path, demo_api)

    found = run_hakiri("source", "discover", "issues", "--json", cwd=project).check().json()
    assert found["connector"] == "http"
    [stream] = found["streams"]
    columns = {c["name"]: c["type"] for c in stream["columns"]}
    assert columns["id"] == "int64" and columns["user"].startswith("struct<")

    sample = run_hakiri(
        "source", "sample", "issues", "--limit", "3", "--format", "json", cwd=project
    )
    document = sample.check().json()
    assert [row[document["columns"].index("id")] for row in document["rows"]] == [1, 2, 3]
    # Three rows needed one page: sampling never walks the whole source.
    assert len(demo_api.requests_to("/issues")) == 2  # discover's page + the sample's page

    text = run_hakiri("source", "sample", "issues", "--limit", "2", cwd=project).check().stdout
    assert text.rstrip().endswith("2 rows")
    assert not (project / ".hakiri").exists(), "looking at a source created the store"


def test_unknown_stream_is_one_clear_line(tmp_path: Path, demo_api: DemoApi) -> None:
    project = _project(tmp_path, demo_api)
    result = run_hakiri("source", "sample", "issues", "--stream", "nope", cwd=project)
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [
        "error[config_invalid]: http source of pipeline 'issues' has no stream 'nope'"
        " — streams: issues (see `hakiri source discover issues`)"
    ]
