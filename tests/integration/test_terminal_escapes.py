"""Source data never drives the terminal: table output escapes control characters visibly.

The data (values and a column name) holds an OSC 52 clipboard write, a clear-screen CSI,
an 8-bit CSI, DEL, a bidi override and NUL. Every human-readable output of real ``hakiri``
subprocesses — ``query`` and ``source sample`` tables, ``pipeline describe``, ``source
discover``, an error line that quotes the data — shows them as ``\\x1b``-style text; JSON
and CSV keep the exact data.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from hakiri.core.terminal import UNSAFE
from hakiri.testing.cli import run_hakiri
from hakiri.testing.project import write_manifest

OSC = "\x1b]52;c;SGVsbG8=\x07 copied"
CSI = "\x1b[2J\x9b31m\x7f\u202eevil\x00"
COLUMN = "na\x1bme"
RECORDS = [{"id": 1, "text": OSC, COLUMN: "x"}, {"id": 2, "text": CSI, COLUMN: "y"}]


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("escapes")
    (root / "data").mkdir()
    (root / "data" / "a.jsonl").write_text("".join(json.dumps(r) + "\n" for r in RECORDS))
    write_manifest(root, '[pipelines.t.source]\nconnector = "file"\npath = "data/*.jsonl"\n')
    run_hakiri("run", "t", cwd=root).check()
    return root


def _shown(*args: str, cwd: Path) -> str:
    """What ``hakiri ARGS`` printed, checked to hold no raw control character."""
    result = run_hakiri(*args, cwd=cwd)
    text = result.stdout + result.stderr
    raw = sorted({c for c in text if c != "\n" and UNSAFE.match(c)})
    assert not raw, f"hakiri {' '.join(args)} printed raw controls {raw!r}: {text!r}"
    return text


@pytest.mark.parametrize(
    "args",
    [("query", "select * from t order by id"), ("source", "sample", "t")],
    ids=["query", "source-sample"],
)
def test_table_output_shows_controls_as_text(project: Path, args: tuple[str, ...]) -> None:
    out = _shown(*args, cwd=project)
    assert "\\x1b]52;c;SGVsbG8=\\x07 copied" in out
    assert "\\x1b[2J\\x9b31m\\x7f\\u202eevil\\x00" in out
    assert "na\\x1bme" in out


def test_describe_and_discover_show_column_names_as_text(project: Path) -> None:
    assert "na\\x1bme: string" in _shown("pipeline", "describe", "t", cwd=project)
    assert "na\\x1bme" in _shown("source", "discover", "t", cwd=project)


def test_an_error_quoting_the_data_is_one_escaped_line(project: Path) -> None:
    err = _shown("query", "select text::int from t where id = 1", cwd=project)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error["), err
    assert "\\x1b]52" in lines[0]


@pytest.mark.parametrize(
    "args",
    [("query", "select * from t order by id"), ("source", "sample", "t")],
    ids=["query", "source-sample"],
)
def test_json_output_is_the_exact_data(project: Path, args: tuple[str, ...]) -> None:
    document = json.loads(_shown(*args, "--format", "json", cwd=project))
    assert document["columns"] == ["id", "text", COLUMN]
    assert sorted(document["rows"]) == [[1, OSC, "x"], [2, CSI, "y"]]


def test_csv_output_is_the_exact_data(project: Path) -> None:
    result = run_hakiri("source", "sample", "t", "--format", "csv", cwd=project).check()
    rows = list(csv.reader(io.StringIO(result.stdout)))
    assert rows == [["id", "text", COLUMN], ["1", OSC, "x"], ["2", CSI, "y"]]
