"""``hakiri query`` as a user runs it: output formats, one-line errors, no side effects."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest
from click.testing import CliRunner, Result

from hakiri.context.cli import query_command
from hakiri.context.testing import StoreBuilder


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Path]:
    (tmp_path / "hakiri.toml").write_text('[project]\nname = "demo"\n')
    builder = StoreBuilder(tmp_path / ".hakiri")
    builder.publish(
        "issues",
        pa.table(
            {
                "id": [1, 2, 30],
                "title": ["First", "a\nmultiline one", None],
                "score": [1.5, 22.25, None],
            }
        ),
    )
    builder.close()
    yield tmp_path


def run(*args: str) -> Result:
    return CliRunner().invoke(query_command, list(args))


def test_table_output_is_aligned_with_a_row_count(project: Path) -> None:
    result = run("select * from issues order by id", "-p", str(project))
    assert result.exit_code == 0, result.output
    assert result.stdout == (
        "id  title             score\n"
        "--  ----------------  -----\n"
        " 1  First               1.5\n"
        " 2  a\\nmultiline one  22.25\n"
        "30  NULL               NULL\n"
        "3 rows\n"
    )


def test_truncation_is_reported(project: Path) -> None:
    result = run("select id from issues order by id", "-p", str(project), "--limit", "2")
    assert result.exit_code == 0
    assert result.stdout.splitlines()[-1] == "2 rows (truncated at 2)"
    one = run("select id from issues where id = 1", "-p", str(project))
    assert one.stdout.splitlines()[-1] == "1 row"


def test_json_and_csv_output(project: Path) -> None:
    result = run("select id, title from issues order by id", "-p", str(project), "--format", "json")
    assert json.loads(result.stdout) == {
        "columns": ["id", "title"],
        "rows": [[1, "First"], [2, "a\nmultiline one"], [30, None]],
        "truncated": False,
    }
    csv_out = run("select id, title from issues order by id", "-p", str(project), "--format", "csv")
    assert csv_out.stdout == 'id,title\n1,First\n2,"a\nmultiline one"\n30,\n'


def test_the_project_is_found_from_a_subdirectory(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (project / "sub" / "dir").mkdir(parents=True)
    monkeypatch.chdir(project / "sub" / "dir")
    result = run("select count(*) as n from issues", "--format", "json")
    assert json.loads(result.stdout)["rows"] == [[3]]


def test_a_refused_query_prints_one_error_line(project: Path) -> None:
    result = run("create table t as select 1", "-p", str(project))
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.startswith("error[query_refused]: only one read-only SELECT")
    assert result.stderr.count("\n") == 1
    assert "Traceback" not in result.output


def test_a_project_that_never_ran_has_no_store_yet(tmp_path: Path) -> None:
    (tmp_path / "hakiri.toml").write_text('[project]\nname = "demo"\n')
    result = run("select 1", "-p", str(tmp_path))
    assert result.exit_code == 1
    assert result.stderr == (
        f"error[store_error]: no context store at {tmp_path.resolve() / '.hakiri'} yet — "
        "run `hakiri run PIPELINE` first\n"
    )
    assert not (tmp_path / ".hakiri").exists()


def test_outside_a_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = run("select 1")
    assert result.exit_code == 2
    assert result.stderr.startswith("error[manifest_invalid]: no hakiri.toml")


def test_the_command_in_a_real_process(project: Path) -> None:
    code = "from hakiri.context.cli import query_command; query_command(prog_name='hakiri query')"
    done = subprocess.run(
        [sys.executable, "-c", code, "select max(id) as top from issues", "-p", str(project)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "top\n---\n 30\n1 row\n"
    refused = subprocess.run(
        [sys.executable, "-c", code, "install httpfs", "-p", str(project)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert refused.returncode == 2
    assert refused.stderr == (
        "error[query_refused]: only one read-only SELECT (or EXPLAIN of one) is allowed, "
        "not INSTALL\n"
    )
