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

Then the member's own unit tests run, in a second venv made the same way but with every
extra of the member (its tests may exercise one) and the test tools at their locked versions
(``hakiri.testing.wheels.install_test_tools``: pytest, pytest-timeout, hypothesis). Which
test modules can run there is read from their source (``hakiri.testing.alone``): those whose
``hakiri.*`` imports stay inside the member's wheel closure, whose other imports are
installed, and that ask for no fixture of the workspace's ``hakiri.testing.fixtures`` plugin;
the rest are printed with what they lack. They run from a copy outside the repository (no
root conftest.py, no source tree on the path), and every ``hakiri`` module they load must
come from the venv's site-packages.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from hakiri.testing.alone import run_alone_tests, select_alone_tests
from hakiri.testing.wheels import (
    build_wheels,
    distribution_sizes,
    install_profile,
    install_test_tools,
    not_from_wheels,
    site_packages,
    wheel_closure,
    wheel_extras,
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


@pytest.mark.parametrize("member", MEMBERS)
def test_member_own_tests_pass_alone(member: str, wheels: dict[str, Path], tmp_path: Path) -> None:
    # The member with every extra of its own: its tests may exercise one (hakiri query needs
    # hakiri-context[duckdb], loaded on first use, which no test module imports by name).
    venv = tmp_path / "venv"
    install_profile(ROOT, venv, wheels, member, extras=wheel_extras(wheels[member]))
    ours = wheel_closure(wheels, member)
    assert not not_from_wheels(venv, [wheels[name] for name in ours])
    install_test_tools(ROOT, venv)
    selection = select_alone_tests(ROOT, venv, member, ours)
    print(selection.summary())
    assert selection.selected, f"no test of {member} can run alone: {selection.summary()}"

    run = run_alone_tests(ROOT, venv, selection, tmp_path / "run")
    print(
        f"{member}: {len(run.outcomes)} tests, {run.count('passed')} passed, "
        f"{run.count('skipped')} skipped"
    )
    assert run.exit_code == 0, run.output
    assert run.count("failed") == 0, run.output
    assert run.count("passed") > 0, run.output
    # Every Hakiri module the tests loaded is the installed wheel's, none the workspace's.
    site = site_packages(venv)
    elsewhere = {
        name: file for name, file in run.modules.items() if not Path(file).is_relative_to(site)
    }
    assert not elsewhere, elsewhere
    assert run.namespace == [str(site / "hakiri")], run.namespace
    assert not [entry for entry in run.sys_path if Path(entry).is_relative_to(ROOT)], run.sys_path


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")


def test_selection_reads_imports_and_fixtures_from_the_source(tmp_path: Path) -> None:
    # A small workspace: member hakiri-m, a plugin fixture `server` of another member, a
    # conformance suite in hakiri.m.testing that asks for it, a conftest that imports outside.
    _write(tmp_path / "conftest.py", 'pytest_plugins = ["hakiri.plug.fixtures"]\n')
    _write(
        tmp_path / "packages/hakiri-plug/src/hakiri/plug/fixtures.py",
        "import pytest\n\n@pytest.fixture\ndef server():\n    return 1\n",
    )
    _write(
        tmp_path / "packages/hakiri-m/src/hakiri/m/testing.py",
        """
        import pytest

        class Suite:
            @pytest.fixture
            def thing(self, server):
                return server

            def test_thing(self, thing):
                assert thing
        """,
    )
    tests = tmp_path / "packages/hakiri-m/tests"
    _write(
        tests / "conftest.py",
        "import pytest\nfrom hakiri.plug import x\n\n@pytest.fixture\ndef local():\n    return x\n",
    )
    _write(
        tests / "test_ok.py",
        """
        from typing import TYPE_CHECKING
        import json
        from hakiri.m import a
        if TYPE_CHECKING:
            from hakiri.plug import y

        def test_a(tmp_path, flag=True):
            assert json
        """,
    )
    _write(
        tests / "test_param.py",
        """
        import pytest

        @pytest.mark.parametrize("server", [1])
        def test_d(server):
            assert server
        """,
    )
    _write(tests / "test_plugin.py", "def test_b(server):\n    assert server\n")
    _write(
        tests / "test_suite.py",
        "from hakiri.m.testing import Suite\n\nclass TestX(Suite):\n    pass\n",
    )
    _write(tests / "test_local.py", "def test_c(local):\n    assert local\n")
    _write(tests / "test_missing.py", "import surely_not_installed_here\n")

    # The environment running this test answers what is installed: pytest is, the other not.
    selection = select_alone_tests(tmp_path, Path(sys.prefix), "hakiri-m", ["hakiri-m"])
    assert [path.name for path in selection.selected] == ["test_ok.py", "test_param.py"]
    assert not selection.conftest
    assert selection.left_out == {
        "conftest.py": "imports hakiri.plug",
        "test_local.py": "fixture local (conftest.py, left out)",
        "test_missing.py": "imports surely_not_installed_here",
        "test_plugin.py": "fixture server (hakiri.plug.fixtures)",
        "test_suite.py": "fixture server (hakiri.plug.fixtures)",
    }
