"""Pipeline and table names are matched whole: ``abc\\n`` is not ``abc``.

A name becomes a SQL table name and a directory of the store, so a trailing newline (which
``re.match`` with ``$`` used to accept) or any other control character must be refused.
"""

from __future__ import annotations

import json
import string
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from hakiri.core.errors import ManifestError
from hakiri.core.manifest import IDENTIFIER, Manifest, load_project

BAD_ENDINGS = ["\n", "\r", "\r\n", "\x00", "\t", " ", "\x1b", "\u2028", "\x85", "/x", "-x"]


def _is_identifier(name: str) -> bool:
    first, rest = string.ascii_lowercase + "_", string.ascii_lowercase + string.digits + "_"
    return 1 <= len(name) <= 63 and name[0] in first and all(c in rest for c in name[1:])


def _manifest(pipelines: dict[str, Any]) -> dict[str, Any]:
    return {"project": {"name": "p"}, "pipelines": pipelines}


def _valid(data: dict[str, Any]) -> bool:
    try:
        Manifest.model_validate(data)
    except ValueError:
        return False
    return True


@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=70))
@example("abc\n")
@example("abc\r")
@example("abc\x00")
@example("abc\n\n")
@example("a" * 63)
@example("a" * 64)
def test_a_name_is_admitted_exactly_when_it_is_an_identifier(name: str) -> None:
    expected = _is_identifier(name)
    assert (IDENTIFIER.fullmatch(name) is not None) == expected
    source = {"source": {"connector": "http"}}
    assert _valid(_manifest({name: source})) == expected
    table = {**source, "destination": {"table": name}}
    assert _valid(_manifest({"ok": table})) == expected


@pytest.mark.parametrize("ending", BAD_ENDINGS)
def test_pipeline_names_with_a_control_ending_are_refused(tmp_path: Path, ending: str) -> None:
    name = json.dumps("abc" + ending)  # a TOML basic string is JSON-compatible here
    (tmp_path / "hakiri.toml").write_text(
        f'[project]\nname = "p"\n\n[pipelines.{name}.source]\nconnector = "http"\n'
    )
    with pytest.raises(ManifestError, match="pipeline name"):
        load_project(tmp_path)


@pytest.mark.parametrize("ending", BAD_ENDINGS)
def test_table_names_with_a_control_ending_are_refused(tmp_path: Path, ending: str) -> None:
    table = json.dumps("abc" + ending)
    (tmp_path / "hakiri.toml").write_text(
        '[project]\nname = "p"\n\n[pipelines.ok.source]\nconnector = "http"\n\n'
        f"[pipelines.ok.destination]\ntable = {table}\n"
    )
    with pytest.raises(ManifestError, match="table name"):
        load_project(tmp_path)


@pytest.mark.parametrize("ending", ["\n", "\r", "\t", " ", "\x1b"])
def test_pipeline_files_whose_name_ends_in_a_control_character_are_refused(
    tmp_path: Path, ending: str
) -> None:
    (tmp_path / "hakiri.toml").write_text('[project]\nname = "p"\n')
    (tmp_path / "pipelines").mkdir()
    (tmp_path / "pipelines" / f"abc{ending}.toml").write_text('[source]\nconnector = "http"\n')
    with pytest.raises(ManifestError, match="pipeline name"):
        load_project(tmp_path)
