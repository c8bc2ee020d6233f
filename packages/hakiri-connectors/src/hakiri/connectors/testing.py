"""The source connector conformance suite: every connector, built-in or WebAssembly, passes it.

A connector's test module implements a ``SourceHarness`` (how to put rows into the
connector's real endpoint and which options read them) and subclasses ``SourceConformance``::

    class TestFileConformance(SourceConformance):
        @pytest.fixture
        def harness(self, tmp_path):
            return FileHarness(tmp_path)

The suite checks the contract the runtime relies on: the spec is a JSON Schema, bad options fail
with ``ConfigError`` before any I/O, ``discover`` names streams, pages are small JSON-
serialisable descriptors, every row is read exactly once, a monotonic cursor never moves back,
an incremental plan reads only what is new, an empty source is a run of zero rows, and a run
killed with SIGKILL after its first commit is resumed by the next run without losing or
duplicating a row — through both drivers of the run protocol: ``hakiri run``, and a workflow's
plan / pull / commit steps, each step its own process (``run_step``) with one of them killed and
retried. Those checks run real processes of ``hakiri-runtime`` (the ``hakiri`` command,
``hakiri.runtime.steps``), so a test environment needs it installed, and they read back what the
runs committed through a ``read_committed`` fixture the test environment provides (a
``ReadCommitted``: the suite imports only core, never the store;
``hakiri.testing.fixtures.read_committed`` opens the project's context store). The host the
suite gives the sources it builds comes the same way, from a ``make_host`` fixture (a
``MakeHost``; ``hakiri.testing.fixtures.make_host`` makes the workspace's one test host,
``hakiri.testing.host.TestHost``, without a catalog). Importing this module needs pytest and
pyarrow.
"""

from __future__ import annotations

import abc
import json
import os
import shutil
import subprocess
import sys
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

import pyarrow as pa
import pytest

from hakiri.core.cursor import CursorKind, JsonValue
from hakiri.core.errors import ConfigError
from hakiri.core.plugins import load_connector
from hakiri.core.ports import ConnectorFactory, Host, Source
from hakiri.core.records import Page, PageData, StreamInfo
from hakiri.core.sampling import sample_source

__all__ = [
    "MakeHost",
    "ReadCommitted",
    "SourceConformance",
    "SourceHarness",
    "conformance_rows",
    "read_all",
    "run_step",
]

T0 = datetime(2026, 1, 1, tzinfo=UTC)

ReadCommitted = Callable[[Path, str], pa.Table]
"""``(project_root, table) -> rows``: every committed row of ``table`` in the context store of
the project at ``project_root``, as readers see it."""

MakeHost = Callable[[Path, Mapping[str, str]], Host]
"""``(project_root, secrets) -> host``: a ``Host`` on ``project_root`` with these secrets and
no catalog (a source must not touch it)."""


def conformance_rows(start: int, count: int) -> list[dict[str, Any]]:
    """Rows ``start`` … ``start + count - 1`` in the suite's canonical shape."""
    return [
        {
            "id": i,
            "name": f"row {i}",
            "score": i * 7 % 100,
            "updated_at": (T0 + timedelta(seconds=i)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        for i in range(start, start + count)
    ]


class SourceHarness(abc.ABC):
    """How the suite drives one connector against its real endpoint."""

    connector: ClassVar[str]
    """The connector's entry-point name, e.g. ``"file"``."""
    id_field: ClassVar[str] = "id"
    """The output column holding a row's id."""
    incremental: ClassVar[bool] = True
    """Whether a plan from the committed cursor reads only new (or changed) rows."""

    def env(self) -> dict[str, str]:
        """Environment a ``hakiri run`` subprocess needs, e.g. the secrets the options name."""
        return {}

    @abc.abstractmethod
    def seed(self, rows: list[dict[str, Any]], *, page_rows: int) -> dict[str, Any]:
        """Make the endpoint hold exactly ``rows`` and return the options that read them in
        pages of about ``page_rows`` rows (the ``[source]`` table without ``connector``)."""

    @abc.abstractmethod
    def add(self, rows: list[dict[str, Any]]) -> None:
        """Add ``rows`` (higher ids, later ``updated_at``) to what ``seed`` made."""

    @abc.abstractmethod
    def bad_options(self) -> list[dict[str, Any]]:
        """Option sets ``create`` must refuse with ``ConfigError``, one per case."""


def read_all(source: Source, cursor: JsonValue = None) -> tuple[pa.Table, list[PageData], Any]:
    """Plan from ``cursor`` and read every page (and the pages they reveal), as a run does.

    Returns the rows, the pages' data in read order, and the cursor the sweep reached.
    """
    plan = source.plan(cursor)
    queue = deque(plan.pages)
    datas: list[PageData] = []
    reached = cursor
    while queue:
        data = source.read(queue.popleft())
        queue.extend(data.next_pages)
        reached = plan.cursor_kind.advance(reached, data.cursor)
        datas.append(data)
        assert len(datas) < 10_000, "the source keeps revealing pages"
    tables = [d.table for d in datas if d.table.num_rows]
    rows = pa.concat_tables(tables, promote_options="permissive") if tables else pa.table({})
    return rows, datas, reached


def _ids(table: pa.Table, field: str) -> list[int]:
    if table.num_rows == 0:
        return []
    assert field in table.column_names, f"no {field!r} column in {table.column_names}"
    values = table.column(field).to_pylist()
    assert None not in values, f"a row has no {field!r}"
    return [int(v) for v in values if v is not None]


def _hakiri_command() -> list[str]:
    script = Path(sys.executable).with_name("hakiri")
    if script.exists():
        return [str(script)]
    found = shutil.which("hakiri")
    if found:
        return [found]
    return [
        sys.executable,
        "-c",
        "import sys; from hakiri.runtime.cli import main; sys.exit(main())",
    ]


_STEP_DRIVER = """
import json, sys
from pathlib import Path
from hakiri.core.manifest import load_project
from hakiri.runtime.steps import commit_step, plan_steps, pull_step
step, root, name, page, run_id = sys.argv[1:6]
project = load_project(Path(root))
if step == "plan":
    out = plan_steps(project, name)
elif step == "pull":
    out = pull_step(project, name, page, run_id=run_id or None)
else:
    out = commit_step(project, name, run_id=run_id or None)
print(json.dumps(out, default=str))
"""


def run_step(
    project: Path,
    step: str,
    pipeline: str,
    *,
    page: str = "",
    run_id: str = "",
    env: Mapping[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run one workflow step (``plan``, ``pull`` of ``page``, ``commit``) of ``pipeline`` in
    a process of its own, as a workflow engine calls the step endpoints: each call may die
    and be retried alone. Its JSON answer is on stdout."""
    if step not in ("plan", "pull", "commit"):
        raise ValueError(f"unknown step {step!r}")
    return subprocess.run(
        [sys.executable, "-c", _STEP_DRIVER, step, str(project), pipeline, page, run_id],
        env=dict(env) if env is not None else None,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


class SourceConformance:
    """Subclass it and provide a ``harness`` fixture (the environment provides
    ``read_committed`` and ``make_host``); every test here must pass."""

    ROWS: ClassVar[int] = 30
    PAGE_ROWS: ClassVar[int] = 10

    @pytest.fixture
    def harness(self) -> SourceHarness:
        raise NotImplementedError("override the `harness` fixture")

    @pytest.fixture
    def factory(self, harness: SourceHarness) -> ConnectorFactory:
        return load_connector(harness.connector, kind="source")

    @pytest.fixture
    def host(self, tmp_path: Path, harness: SourceHarness, make_host: MakeHost) -> Host:
        root = tmp_path / "conformance-host"
        root.mkdir()
        return make_host(root, harness.env())

    @pytest.fixture
    def make_source(self, factory: ConnectorFactory, host: Host) -> Iterator[Any]:
        created: list[Source] = []

        def make(options: Mapping[str, Any]) -> Source:
            source: Source = factory.create(options, host)
            created.append(source)
            return source

        yield make
        for source in created:
            source.close()

    # -- the spec ----------------------------------------------------------------------------

    def test_factory_declares_a_spec(
        self, factory: ConnectorFactory, harness: SourceHarness
    ) -> None:
        assert factory.name == harness.connector
        assert factory.kind == "source"
        assert factory.description.strip(), "a connector describes itself in one line"
        schema = factory.config_model.model_json_schema()
        assert schema.get("type") == "object"
        assert isinstance(schema.get("properties"), dict) and schema["properties"]
        json.dumps(schema)

    def test_bad_options_are_refused_clearly(
        self, factory: ConnectorFactory, host: Host, harness: SourceHarness
    ) -> None:
        cases = harness.bad_options()
        assert cases, "a harness names at least one bad option set"
        for options in [*cases, {"no_such_option_anywhere": 1}]:
            with pytest.raises(ConfigError) as caught:
                factory.create(options, host).close()
            line = caught.value.one_line()
            assert "\n" not in line and harness.connector in line, line

    # -- discover / plan / read --------------------------------------------------------------

    def test_discover_names_streams(self, harness: SourceHarness, make_source: Any) -> None:
        options = harness.seed(conformance_rows(1, self.ROWS), page_rows=self.PAGE_ROWS)
        streams: list[StreamInfo] = make_source(options).discover()
        assert streams, "discover() names at least one stream"
        names = [s.name for s in streams]
        assert len(names) == len(set(names)), f"stream names repeat: {names}"
        for stream in streams:
            assert stream.name and stream.name == stream.name.strip()
            json.dumps(stream.options)
            if stream.schema is not None:
                assert stream.schema.to_arrow().names, f"{stream.name}: a schema has columns"

    def test_pages_are_small_serialisable_descriptors(
        self, harness: SourceHarness, make_source: Any
    ) -> None:
        options = harness.seed(conformance_rows(1, self.ROWS), page_rows=self.PAGE_ROWS)
        source = make_source(options)
        plan = source.plan(None)
        _, datas, _ = read_all(source)
        pages = [*plan.pages, *(p for d in datas for p in d.next_pages)]
        assert pages, "a source with rows plans at least one page"
        for page in pages:
            text = json.dumps(page.to_dict())
            assert len(text) < 64 * 1024, f"page {page.key} is not a pointer: {len(text)} bytes"
            assert Page.from_dict(json.loads(text)) == page
        keys = [p.key for p in pages]
        assert len(keys) == len(set(keys)), "page keys are unique within a sweep"

    def test_every_row_is_read_once(self, harness: SourceHarness, make_source: Any) -> None:
        options = harness.seed(conformance_rows(1, self.ROWS), page_rows=self.PAGE_ROWS)
        rows, datas, _ = read_all(make_source(options))
        assert sorted(_ids(rows, harness.id_field)) == list(range(1, self.ROWS + 1))
        assert len(datas) > 1, f"{self.ROWS} rows in pages of {self.PAGE_ROWS} take several"

    def test_a_fresh_source_reads_a_page_again_the_same(
        self, harness: SourceHarness, make_source: Any
    ) -> None:
        # A page may be pulled by another process than the one that planned it (a resumed
        # run, a cloud workflow step): the descriptor alone must be enough.
        options = harness.seed(conformance_rows(1, self.ROWS), page_rows=self.PAGE_ROWS)
        page = make_source(options).plan(None).pages[0]
        first = make_source(options).read(page)
        again = make_source(options).read(Page.from_dict(json.loads(json.dumps(page.to_dict()))))
        assert _ids(first.table, harness.id_field) == _ids(again.table, harness.id_field)

    def test_cursor_never_moves_back(self, harness: SourceHarness, make_source: Any) -> None:
        options = harness.seed(conformance_rows(1, self.ROWS), page_rows=self.PAGE_ROWS)
        source = make_source(options)
        kind = source.plan(None).cursor_kind
        _, datas, reached = read_all(source)
        if kind is not CursorKind.MONOTONIC:
            return
        folded: JsonValue = None
        for data in datas:
            after = kind.advance(folded, data.cursor)
            if folded is not None:
                assert kind.advance(after, folded) == after, "the cursor moved back"
            folded = after
        json.dumps(reached)

    def test_an_empty_source_reads_no_rows(self, harness: SourceHarness, make_source: Any) -> None:
        options = harness.seed([], page_rows=self.PAGE_ROWS)
        rows, _, _ = read_all(make_source(options))
        assert rows.num_rows == 0

    def test_incremental_plan_reads_only_new_rows(
        self, harness: SourceHarness, make_source: Any
    ) -> None:
        if not harness.incremental:
            pytest.skip(f"{harness.connector} is a snapshot source in this harness")
        options = harness.seed(conformance_rows(1, self.ROWS), page_rows=self.PAGE_ROWS)
        _, _, cursor = read_all(make_source(options))
        json.dumps(cursor)
        nothing, _, unchanged = read_all(make_source(options), cursor)
        assert _ids(nothing, harness.id_field) == [] or set(_ids(nothing, harness.id_field)) <= {
            self.ROWS
        }, "nothing new: at most the row at the watermark comes back"
        harness.add(conformance_rows(self.ROWS + 1, 5))
        new, _, _ = read_all(make_source(options), unchanged)
        new_ids = set(_ids(new, harness.id_field))
        assert set(range(self.ROWS + 1, self.ROWS + 6)) <= new_ids
        assert new_ids <= set(range(self.ROWS, self.ROWS + 6)), f"old rows read again: {new_ids}"

    def test_sample_reads_a_few_rows(self, harness: SourceHarness, make_source: Any) -> None:
        options = harness.seed(conformance_rows(1, self.ROWS), page_rows=self.PAGE_ROWS)
        sample = sample_source(make_source(options), limit=3)
        assert sample.num_rows == 3
        assert harness.id_field in sample.column_names

    # -- through the real runtime ------------------------------------------------------------

    def _project(self, harness: SourceHarness, tmp_path: Path) -> tuple[Path, dict[str, str]]:
        """A project with one append pipeline over ``ROWS`` seeded rows, committed a page
        at a time, and the environment its processes run in."""
        options = harness.seed(conformance_rows(1, self.ROWS), page_rows=self.PAGE_ROWS)
        project = tmp_path / "conformance-project"
        (project / "pipelines").mkdir(parents=True)
        (project / "hakiri.toml").write_text('[project]\nname = "conformance"\n')
        pipeline = {
            "source": {"connector": harness.connector, **options},
            "destination": {"table": "rows", "write": "append"},
            # One page per commit, read one at a time: the kill lands between two pages.
            "chunk_rows": 1,
            "prefetch_pages": 0,
        }
        (project / "pipelines" / "rows.json").write_text(json.dumps(pipeline))
        env = {k: v for k, v in os.environ.items() if not k.startswith("HAKIRI_")}
        env.update(harness.env())
        return project, env

    def test_resume_after_a_crash_loses_and_repeats_nothing(
        self, harness: SourceHarness, tmp_path: Path, read_committed: ReadCommitted
    ) -> None:
        project, env = self._project(harness, tmp_path)

        def hakiri(*args: str, failpoints: str | None = None) -> subprocess.CompletedProcess[str]:
            run_env = dict(env)
            if failpoints:
                run_env["HAKIRI_FAILPOINTS"] = failpoints
            return subprocess.run(
                [*_hakiri_command(), *args],
                cwd=project,
                env=run_env,
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )

        crashed = hakiri("run", "rows", failpoints="after_commit:1")
        assert crashed.returncode == -9, f"expected SIGKILL:\n{crashed.stdout}\n{crashed.stderr}"
        resumed = hakiri("run", "rows")
        assert resumed.returncode == 0, resumed.stderr
        rows = read_committed(project, "rows")
        assert sorted(_ids(rows, harness.id_field)) == list(range(1, self.ROWS + 1))

    def test_a_workflow_step_killed_and_retried_loses_and_repeats_nothing(
        self, harness: SourceHarness, tmp_path: Path, read_committed: ReadCommitted
    ) -> None:
        project, env = self._project(harness, tmp_path)

        def step(name: str, *, page: str = "", run_id: str = "", kill: str = "") -> Any:
            run_env = {**env, "HAKIRI_FAILPOINTS": kill} if kill else env
            done = run_step(project, name, "rows", page=page, run_id=run_id, env=run_env)
            if kill:
                assert done.returncode == -9, f"expected SIGKILL:\n{done.stdout}\n{done.stderr}"
                return None
            assert done.returncode == 0, f"{name} step failed:\n{done.stderr}"
            return json.loads(done.stdout)

        plan = step("plan")
        run_id = plan["run_id"]
        pages = [entry["id"] for entry in plan["pages"]]
        assert pages, "the plan has nothing to pull"
        # The first pull dies with its first page read; the workflow retries that step alone.
        step("pull", page=pages[0], run_id=run_id, kill="pull:1")
        for page in pages:
            pulled = step("pull", page=page, run_id=run_id)
            assert pulled["run_id"] == run_id
        # The commit dies inside its catalog transaction; retried, it commits once.
        # (A partial commit would show as rows read twice below.)
        step("commit", run_id=run_id, kill="inside_commit:1")
        summary = step("commit", run_id=run_id)
        assert summary["status"] == "succeeded"
        rows = read_committed(project, "rows")
        assert sorted(_ids(rows, harness.id_field)) == list(range(1, self.ROWS + 1))
        assert step("commit", run_id=run_id)["rows"] == summary["rows"]  # idempotent
        assert read_committed(project, "rows").num_rows == self.ROWS
