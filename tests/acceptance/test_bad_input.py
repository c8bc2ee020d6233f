"""Bad input: one clear line on stderr, a non-zero exit, and the catalog and store untouched."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from hakiri.testing.cli import CliResult, run_hakiri
from hakiri.testing.demo_api import DemoApi
from hakiri.testing.net import free_port
from hakiri.testing.project import store_fingerprint, write_manifest

GOOD = """[pipelines.issues]
[pipelines.issues.source]
connector = "http"
url = "{url}/issues"
params = {{ style = "link", per_page = 50 }}
pagination = {{ kind = "link_header" }}
"""


@pytest.fixture(scope="module")
def api() -> Iterator[DemoApi]:
    with DemoApi(issues=120) as server:
        yield server


@pytest.fixture
def project(tmp_path: Path, api: DemoApi) -> Path:
    """A project that has run once, so there is a catalog and data to protect."""
    write_manifest(tmp_path, GOOD.format(url=api.url))
    run_hakiri("run", "issues", cwd=tmp_path).check()
    return tmp_path


def _one_error_line(result: CliResult) -> str:
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error["), lines[0]
    assert "Traceback" not in result.stderr
    return lines[0]


def _append(project: Path, text: str) -> None:
    manifest = project / "hakiri.toml"
    manifest.write_text(manifest.read_text() + text)


def test_malformed_toml_names_the_line(project: Path) -> None:
    before = store_fingerprint(project / ".hakiri")
    _append(project, '\n[pipelines.broken]\nsource = { connector = "http" url = "x" }\n')
    line = _one_error_line(run_hakiri("run", "issues", cwd=project))
    assert "invalid TOML" in line
    assert "hakiri.toml:12" in line
    assert store_fingerprint(project / ".hakiri") == before


def test_unknown_key_names_line_and_key(project: Path) -> None:
    before = store_fingerprint(project / ".hakiri")
    _append(project, '\n[pipelines.issues.destination]\nwirte = "append"\n')
    line = _one_error_line(run_hakiri("run", "issues", cwd=project))
    assert "hakiri.toml:12:" in line
    assert "pipelines.issues.destination.wirte" in line
    assert "unknown key" in line
    assert store_fingerprint(project / ".hakiri") == before


def test_bad_connector_option_names_line_and_key(project: Path) -> None:
    before = store_fingerprint(project / ".hakiri")
    manifest = project / "hakiri.toml"
    manifest.write_text(manifest.read_text().replace('kind = "link_header"', 'kind = "cursor"'))
    line = _one_error_line(run_hakiri("run", "issues", cwd=project))
    assert "hakiri.toml:" in line and "pipelines.issues.source.pagination" in line
    assert store_fingerprint(project / ".hakiri") == before


def test_unknown_connector(project: Path) -> None:
    before = store_fingerprint(project / ".hakiri")
    _append(project, '\n[pipelines.other]\nsource.connector = "htpp"\n')
    line = _one_error_line(run_hakiri("run", "other", cwd=project))
    assert "error[unknown_connector]" in line
    assert "'htpp'" in line and "http" in line
    assert store_fingerprint(project / ".hakiri") == before


def test_missing_secret(project: Path, api: DemoApi) -> None:
    before = store_fingerprint(project / ".hakiri")
    _append(
        project,
        f'\n[pipelines.secret]\nsource.connector = "http"\nsource.url = "{api.url}/anything"\n'
        'source.headers = { Authorization = "Bearer secret://NOT_SET_ANYWHERE" }\n',
    )
    line = _one_error_line(run_hakiri("run", "secret", cwd=project))
    assert "error[secret_missing]" in line and "NOT_SET_ANYWHERE" in line
    assert store_fingerprint(project / ".hakiri") == before


def test_secret_from_dotenv_is_used_and_never_printed(project: Path, api: DemoApi) -> None:
    _append(
        project,
        f'\n[pipelines.secret]\nsource.connector = "http"\nsource.url = "{api.url}/anything"\n'
        'source.headers = { Authorization = "Bearer secret://DEMO_TOKEN" }\n',
    )
    (project / ".env").write_text("DEMO_TOKEN=s3cr3t-value\n")
    result = run_hakiri("run", "secret", cwd=project).check()
    assert "s3cr3t-value" not in result.stdout + result.stderr
    assert api.requests_to("/anything")[-1].headers["authorization"] == "Bearer s3cr3t-value"
    described = run_hakiri("pipeline", "describe", "secret", "--json", cwd=project).check()
    assert "s3cr3t-value" not in described.stdout


def test_unreachable_url(project: Path) -> None:
    before = store_fingerprint(project / ".hakiri")
    port = free_port()
    _append(
        project,
        f'\n[pipelines.offline]\nsource.connector = "http"\n'
        f'source.url = "http://127.0.0.1:{port}/anything"\n'
        "source.retry = { max_attempts = 1 }\n",
    )
    line = _one_error_line(run_hakiri("run", "offline", cwd=project))
    assert "error[source_unreachable]" in line and f"127.0.0.1:{port}" in line
    assert store_fingerprint(project / ".hakiri") == before


def test_unknown_pipeline(project: Path) -> None:
    line = _one_error_line(run_hakiri("run", "nope", cwd=project))
    assert "error[unknown_pipeline]" in line and "issues" in line


def test_no_project_here(tmp_path: Path) -> None:
    line = _one_error_line(run_hakiri("run", "issues", cwd=tmp_path))
    assert "hakiri init" in line


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("COPY (SELECT 1) TO '{store}/context/issues/evil.csv'", "query_refused"),
        ("COPY issues TO '{store}/context/issues/copy.parquet' (FORMAT parquet)", "query_refused"),
        ("CREATE TABLE t AS SELECT 1", "query_refused"),
        ("ATTACH '{store}/other.db' AS other", "query_refused"),
        ("INSTALL httpfs", "query_refused"),
        ("LOAD httpfs", "query_refused"),
        ("SELECT 1; DELETE FROM issues", "query_refused"),
        ("SELECT 1; SELECT 2", "query_refused"),
        ("SET enable_external_access = true", "query_refused"),
        ("SELECT * FROM read_csv('/etc/passwd')", "query_refused"),
        ("SELECT * FROM read_text('{outside}')", "query_refused"),
    ],
)
def test_queries_that_write_or_escape_are_refused(project: Path, sql: str, expected: str) -> None:
    store = project / ".hakiri"
    outside = project / "outside.txt"
    outside.write_text("not in the store")
    before = store_fingerprint(store)
    line = _one_error_line(
        run_hakiri("query", sql.format(store=store, outside=outside), cwd=project)
    )
    assert f"error[{expected}]" in line
    assert store_fingerprint(store) == before
    assert not (store / "context" / "issues" / "evil.csv").exists()
    assert not (store / "other.db").exists()


def test_query_without_duckdb_says_what_to_install(
    project: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    # A directory that shadows the duckdb package with one that cannot be imported: to the
    # CLI this is exactly an environment without the `duckdb` extra.
    shadow = tmp_path_factory.mktemp("no_duckdb")
    (shadow / "duckdb").mkdir()
    (shadow / "duckdb" / "__init__.py").write_text(
        "raise ModuleNotFoundError(\"No module named 'duckdb'\", name='duckdb')\n"
    )
    result = run_hakiri("query", "select 1", cwd=project, env={"PYTHONPATH": str(shadow)})
    line = _one_error_line(result)
    assert "error[missing_dependency]" in line
    assert "hakiri-context[duckdb]" in line


@pytest.mark.parametrize("command", ["run", "plan"])
def test_bad_schedule_names_line_and_key(project: Path, command: str) -> None:
    before = store_fingerprint(project / ".hakiri")
    manifest = project / "hakiri.toml"
    manifest.write_text(
        manifest.read_text().replace(
            "[pipelines.issues]\n", '[pipelines.issues]\nschedule = "every 15x"\n', 1
        )
    )
    line = _one_error_line(run_hakiri(command, "issues", cwd=project))
    assert line.startswith("error[config_invalid]: "), line
    assert f"{manifest}:5: pipelines.issues.schedule: 'every 15x' is not a schedule" in line
    assert "'*/15 * * * *'" in line and "'every 15m'" in line
    assert store_fingerprint(project / ".hakiri") == before
