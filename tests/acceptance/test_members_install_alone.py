"""Each library member installs alone from the built wheels and works with nothing else
(issue 12, item 5), as the MCP python-sdk checks its small package installs on its own.

The wheels come from ``uv build --all-packages --no-sources``. Each member gets a fresh venv:
its third-party dependencies at the versions in ``uv.lock`` (``uv sync --package MEMBER
--no-install-workspace``, so only what the member itself declares), then the member from the
wheels with ``--no-index --find-links DIST`` (``hakiri.testing.wheels.install_profile``): a
sibling it forgot to declare is missing there, not borrowed from the workspace. In that venv
every module of the member imports (its ``testing`` modules, which need pytest, aside), and a
smoke check of its own runs: the due decision for core (and no pyarrow installed), the
``hakiri`` CLI for the runtime, a SQLite catalog for the store, the built-in connectors for
connectors, the daemon's commands for the agent.
"""

from __future__ import annotations

import json
import subprocess
import textwrap
from pathlib import Path

import pytest

from hakiri.testing.wheels import (
    build_wheels,
    distribution_sizes,
    install_profile,
    not_from_wheels,
    wheel_closure,
)

pytestmark = pytest.mark.timeout(900)

ROOT = Path(__file__).resolve().parents[2]
MEMBERS = ["hakiri-core", "hakiri-runtime", "hakiri-context", "hakiri-connectors", "hakiri-agent"]

_IMPORT_ALL = textwrap.dedent(
    """
    import importlib, json, pkgutil, sys
    package = importlib.import_module(sys.argv[1])
    names = sorted(
        info.name
        for info in pkgutil.walk_packages(package.__path__, package.__name__ + ".")
        if "testing" not in info.name.split(".")[2:]
    )
    for name in names:
        importlib.import_module(name)
    print(json.dumps(names))
    """
)

_CORE = textwrap.dedent(
    """
    import importlib.util, sys
    from datetime import UTC, datetime, timedelta
    from pathlib import Path
    from hakiri.core.due import due_pipelines
    from hakiri.core.manifest import load_project

    project = load_project(Path(sys.argv[1]))
    now = datetime(2026, 3, 1, 12, tzinfo=UTC)
    assert due_pipelines(project, {"orders": now - timedelta(hours=1)}, now) == ["orders"]
    assert importlib.util.find_spec("pyarrow") is None, "pyarrow is installed"
    print("ok")
    """
)

_CONTEXT = textwrap.dedent(
    """
    import sys
    from hakiri.core.plugins import open_catalog
    catalog = open_catalog(f"sqlite:///{sys.argv[1]}/catalog.db")
    assert catalog.list_runs() == []
    print("ok")
    """
)

_CONNECTORS = textwrap.dedent(
    """
    from hakiri.core.plugins import connector_names, load_connector
    assert {"file", "github", "http", "postgres", "s3"} <= set(connector_names())
    options = load_connector("file", kind="source").config_model.model_validate(
        {"path": "orders.csv"}
    )
    assert options.path == "orders.csv"
    print("ok")
    """
)


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return build_wheels(ROOT, tmp_path_factory.mktemp("dist"))


def _python(venv: Path, *args: str, cwd: Path | None = None) -> str:
    proc = subprocess.run(
        [str(venv / "bin" / "python"), *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def _hakiri(venv: Path, *args: str, cwd: Path) -> str:
    proc = subprocess.run(
        [str(venv / "bin" / "hakiri"), *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def _commands(help_text: str) -> set[str]:
    lines = help_text.split("Commands:", 1)[1].splitlines()
    return {line.split()[0] for line in lines if line.startswith("  ") and line.strip()}


def _smoke(member: str, venv: Path, work: Path) -> None:
    if member == "hakiri-core":
        (work / "hakiri.toml").write_text(
            '[project]\nname = "alone"\n\n[pipelines.orders]\n'
            'source = { connector = "http" }\nschedule = "every 15m"\n',
            encoding="utf-8",
        )
        assert _python(venv, "-c", _CORE, str(work)).strip() == "ok"
    elif member == "hakiri-runtime":
        assert "0.1.0" in _hakiri(venv, "--version", cwd=work)
        # Only the runtime's own commands: query, compact, serve, mcp belong to others.
        assert _commands(_hakiri(venv, "--help", cwd=work)) == {
            "init", "pipeline", "plan", "run", "schema", "source",
        }  # fmt: skip
        _hakiri(venv, "init", "demo", cwd=work)
        assert (work / "demo" / "hakiri.toml").is_file()
        schema = json.loads(_hakiri(venv, "schema", "export", cwd=work / "demo"))
        assert schema["title"] == "hakiri.toml"
    elif member == "hakiri-context":
        assert _python(venv, "-c", _CONTEXT, str(work)).strip() == "ok"
    elif member == "hakiri-connectors":
        assert _python(venv, "-c", _CONNECTORS).strip() == "ok"
    else:
        commands = _commands(_hakiri(venv, "--help", cwd=work))
        assert {"serve", "mcp", "query", "run"} <= commands, commands
        assert "Usage: hakiri mcp" in _hakiri(venv, "mcp", "--help", cwd=work)


@pytest.mark.parametrize("member", MEMBERS)
def test_member_installs_alone_and_works(
    member: str, wheels: dict[str, Path], tmp_path: Path
) -> None:
    venv = tmp_path / "venv"
    install_profile(ROOT, venv, wheels, member)
    ours = wheel_closure(wheels, member)
    assert "hakiri-testing" not in ours
    assert not not_from_wheels(venv, [wheels[name] for name in ours])
    installed = {
        name.lower().replace("_", "-")
        for name in distribution_sizes(venv)
        if name.startswith("hakiri")
    }
    assert installed == set(ours)

    package = "hakiri." + member.removeprefix("hakiri-")
    modules = json.loads(_python(venv, "-c", _IMPORT_ALL, package))
    assert modules, f"{package} has no modules"
    work = tmp_path / "work"
    work.mkdir()
    _smoke(member, venv, work)
