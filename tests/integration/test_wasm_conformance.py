"""The example WebAssembly connector passes the source conformance suite, like the built-ins.

``examples/connectors/rest_jsonl`` (Python compiled with componentize-py, built once per
session) reads the demo API's ``/issues`` — Link-header pagination, ``since`` incremental —
through ``connector = "wasm:<path>"`` and a ``grant``, in-process and in real ``hakiri run``
subprocesses. Each harness gets its own copy of the component, whose capability manifest
declares exactly the demo API it talks to (a new port per seed), so every load goes through
the declared ⊆ granted check with the narrowest grant that works.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar, cast

import pytest

from hakiri.connectors.testing import (
    SourceConformance,
    SourceHarness,
    conformance_rows,
    read_all,
)
from hakiri.core.plugins import load_connector
from hakiri.testing.cli import run_hakiri
from hakiri.testing.demo_api import DemoApi
from hakiri.testing.host import TestHost
from hakiri.testing.wasm import build_component

REPO = Path(__file__).resolve().parents[2]
GUEST = REPO / "examples" / "connectors" / "rest_jsonl"
EXAMPLE = REPO / "examples" / "wasm"
NAME = "rest_jsonl"
SECRET_NAME = "REST_JSONL_TOKEN"
SECRET = "rest-jsonl-test-value-5f0c2a"


@pytest.fixture(scope="session")
def built_component(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example, compiled once per session (componentize-py output is cached by content)."""
    return build_component(GUEST, tmp_path_factory.mktemp("rest-jsonl-build"), name=NAME)


def _manifest(hosts: list[str], secrets: list[str]) -> str:
    """The example's own manifest with its capabilities narrowed to this test's endpoint."""
    text = (GUEST / "connector.toml").read_text()
    text = re.sub(r"(?m)^hosts = .*$", f"hosts = {json.dumps(hosts)}", text)
    return re.sub(r"(?m)^secrets = .*$", f"secrets = {json.dumps(secrets)}", text)


class RestJsonlHarness(SourceHarness):
    """The demo API's ``/issues`` holds issues 1…n; the component reads them with its
    defaults (Link header, ``per_page``, ``since`` on ``updated_at``)."""

    connector: ClassVar[str]  # "wasm:<abs path>", set by `harness_for`

    def __init__(self, directory: Path, *, secrets: dict[str, str] | None = None) -> None:
        self.wasm = directory / f"{NAME}.wasm"
        self.secrets = dict(secrets or {})
        self.api: DemoApi | None = None
        self._declare([])

    def _declare(self, hosts: list[str]) -> None:
        (self.wasm.parent / f"{NAME}.toml").write_text(_manifest(hosts, sorted(self.secrets)))

    def grant(self) -> dict[str, Any]:
        hosts = [] if self.api is None else [f"127.0.0.1:{self.api.port}"]
        return {"hosts": hosts, "secrets": sorted(self.secrets)}

    def env(self) -> dict[str, str]:
        return dict(self.secrets)

    def seed(self, rows: list[dict[str, Any]], *, page_rows: int) -> dict[str, Any]:
        # The demo API generates issue i from its id, so holding rows 1…n is holding n issues.
        assert [row["id"] for row in rows] == list(range(1, len(rows) + 1))
        self.close()
        self.api = DemoApi(issues=len(rows)).start()
        self._declare([f"127.0.0.1:{self.api.port}"])
        return {"url": f"{self.api.url}/issues", "per_page": page_rows, "grant": self.grant()}

    def add(self, rows: list[dict[str, Any]]) -> None:
        assert self.api is not None
        self.api.add_issues(len(rows))

    def bad_options(self) -> list[dict[str, Any]]:
        grant = {"grant": self.grant()}
        return [
            {**grant},  # no url
            {"url": "ftp://example.invalid/x", **grant},
            {"url": "http://127.0.0.1:1/x", "pagination": "no_such_kind", **grant},
            {"url": "http://127.0.0.1:1/x", "per_page": 0, **grant},
            # A credential itself, not a reference: refused, so it never sits in a manifest.
            {"url": "http://127.0.0.1:1/x", "token": "plain-text-token", **grant},
        ]

    def close(self) -> None:
        if self.api is not None:
            self.api.stop()
            self.api = None


def harness_for(
    built: Path, directory: Path, *, secrets: dict[str, str] | None = None
) -> RestJsonlHarness:
    """A harness on its own copy of the component (its manifest is the harness's to edit)."""
    directory.mkdir()
    wasm = directory / built.name
    os.link(built, wasm)  # the same bytes: the compiled-component cache entry is shared
    # `connector` is a class attribute in the suite's contract: one subclass per component.
    kind = type(RestJsonlHarness.__name__, (RestJsonlHarness,), {"connector": f"wasm:{wasm}"})
    return cast(RestJsonlHarness, kind(directory, secrets=secrets))


class TestWasmConformance(SourceConformance):
    @pytest.fixture
    def harness(self, built_component: Path, tmp_path: Path) -> Iterator[SourceHarness]:
        harness = harness_for(built_component, tmp_path / "component")
        yield harness
        harness.close()


# -- what the suite does not cover: the options the example documents ----------------------


@pytest.fixture
def harness(built_component: Path, tmp_path: Path) -> Iterator[RestJsonlHarness]:
    harness = harness_for(built_component, tmp_path / "component", secrets={SECRET_NAME: SECRET})
    yield harness
    harness.close()


def _source(harness: RestJsonlHarness, tmp_path: Path, options: dict[str, Any]) -> Any:
    root = tmp_path / "host"
    root.mkdir(exist_ok=True)
    factory = load_connector(harness.connector, kind="source")
    return factory.create(options, TestHost(root, secrets=harness.env()))


def test_the_token_reaches_the_api_only_as_the_host_substitutes_it(
    harness: RestJsonlHarness, tmp_path: Path
) -> None:
    options = harness.seed(conformance_rows(1, 12), page_rows=5)
    options["token"] = f"secret://{SECRET_NAME}"
    source = _source(harness, tmp_path, options)
    try:
        rows, datas, _ = read_all(source)
    finally:
        source.close()
    assert rows.num_rows == 12
    assert harness.api is not None
    sent = [r.headers.get("authorization") for r in harness.api.requests_to("/issues")]
    assert sent == [f"Bearer {SECRET}"] * 3  # the value on the wire, on every page
    pages = [p.to_dict() for d in datas for p in d.next_pages]
    assert SECRET not in json.dumps(pages)  # descriptors carry no credential


def test_page_number_pagination_reads_every_row(harness: RestJsonlHarness, tmp_path: Path) -> None:
    options = harness.seed(conformance_rows(1, 23), page_rows=10)
    options |= {"pagination": "page_number", "params": {"style": "page"}, "records": "results"}
    source = _source(harness, tmp_path, options)
    try:
        rows, datas, cursor = read_all(source)
    finally:
        source.close()
    assert rows.num_rows == 23 and set(rows.column("id").to_pylist()) == set(range(1, 24))
    assert len(datas) == 3  # 10 + 10 + a short page of 3, which ends the sweep
    assert cursor == rows.column("updated_at").to_pylist()[-1]


def test_the_example_project_runs(harness: RestJsonlHarness, tmp_path: Path) -> None:
    # examples/wasm/hakiri.toml as written (the README shows its pipeline), with the demo
    # API on this test's port and the component where it says, relative to the project root.
    example = (EXAMPLE / "hakiri.toml").read_text()
    readme = (GUEST / "README.md").read_text()
    assert all(block in example for block in re.findall(r"```toml\n(.*?)```", readme, re.S))
    harness.seed(conformance_rows(1, 25), page_rows=10)
    assert harness.api is not None
    endpoint = f"127.0.0.1:{harness.api.port}"
    project = tmp_path / "project"
    (project / "connectors").mkdir(parents=True)
    (project / "hakiri.toml").write_text(example.replace("127.0.0.1:8765", endpoint))
    os.link(harness.wasm, project / "connectors" / f"{NAME}.wasm")
    (project / "connectors" / f"{NAME}.toml").write_text(_manifest([endpoint], []))
    first = run_hakiri("run", "issues", "--json", cwd=project)
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["rows"] == 25
    harness.add(conformance_rows(26, 3))
    second = run_hakiri("run", "issues", "--json", cwd=project)
    assert second.returncode == 0, second.stderr
    # `since` is inclusive: the row at the watermark comes back with the three new ones,
    # and the merge keeps one row per id.
    assert json.loads(second.stdout)["rows"] == 4
    count = run_hakiri(
        "query", "select count(*), count(distinct id) from issues", "--format", "json", cwd=project
    )
    assert count.returncode == 0, count.stderr
    assert json.loads(count.stdout)["rows"] == [[28, 28]]
