"""Run a library member's own unit tests (``packages/<member>/tests``) in an environment that
holds that member alone, installed from its wheel (``hakiri.testing.wheels.install_profile``).

Which tests can run there is read from their source (``hakiri.testing._needs``), not kept by
hand: a test module runs when every ``hakiri.*`` package it imports is in the member's wheel
closure, every other package it imports is installed in the environment, and it asks for no
fixture of the workspace's pytest plugins (``pytest_plugins`` of the root conftest.py, i.e.
``hakiri.testing.fixtures``). The member's conftest.py goes along when it qualifies the same
way; when it does not, the modules that use its fixtures stay out too.

The tests run from a copy outside the repository, so neither the root conftest.py nor the
workspace's source tree is on the path: the run records where every ``hakiri`` module was
imported from, for the caller to check.
"""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from hakiri.testing._needs import Needs, read_needs

__all__ = [
    "AloneRun",
    "AloneSelection",
    "plugin_fixtures",
    "run_alone_tests",
    "select_alone_tests",
]

_FIND = """
import importlib.util, json, sys
print(json.dumps(sorted(n for n in sys.argv[1:] if importlib.util.find_spec(n) is not None)))
"""

_RUNNER = """
import json, sys
import pytest

class Record:
    def __init__(self):
        self.outcomes = {}

    def pytest_runtest_logreport(self, report):
        # A failed phase wins over a passed one (a failing teardown after a passing call).
        if report.failed:
            self.outcomes[report.nodeid] = "failed"
        elif report.skipped:
            self.outcomes.setdefault(report.nodeid, "skipped")
        elif report.when == "call":
            self.outcomes.setdefault(report.nodeid, "passed")

record = Record()
code = pytest.main(sys.argv[2:], plugins=[record])
hakiri = sys.modules.get("hakiri")
report = {
    "exit_code": int(code),
    "outcomes": record.outcomes,
    "modules": {
        name: module.__file__
        for name, module in list(sys.modules.items())
        if name.startswith("hakiri.") and getattr(module, "__file__", None)
    },
    "namespace": list(hakiri.__path__) if hakiri is not None else [],
    "sys_path": sys.path,
}
with open(sys.argv[1], "w", encoding="utf-8") as out:
    json.dump(report, out)
"""


@dataclass(frozen=True)
class AloneSelection:
    """A member's test modules split into those that can run with it alone and the rest."""

    member: str
    tests: Path
    selected: tuple[Path, ...]
    conftest: bool
    """Whether the member's tests/conftest.py qualifies and goes along."""
    left_out: dict[str, str] = field(default_factory=dict)
    """File name -> what it needs that the environment lacks."""

    def summary(self) -> str:
        """One line: how many modules run, which stay out and why."""
        total = len(self.selected) + len(self.left_out)
        out = "; ".join(f"{name}: {why}" for name, why in sorted(self.left_out.items()))
        return f"{self.member}: {len(self.selected)} of {total} files alone" + (
            f" (left out: {out})" if out else ""
        )


@dataclass(frozen=True)
class AloneRun:
    """What the pytest run in the member's environment reported."""

    exit_code: int
    outcomes: dict[str, str]
    """Test node id -> ``passed``, ``failed`` or ``skipped``."""
    modules: dict[str, str]
    """Every ``hakiri.*`` module imported during the run -> the file it came from."""
    namespace: list[str]
    """The ``hakiri`` namespace package's ``__path__``."""
    sys_path: list[str]
    output: str

    def count(self, outcome: str) -> int:
        """How many tests ended with ``outcome``."""
        return sum(1 for value in self.outcomes.values() if value == outcome)


def _source(root: Path, module: str) -> Path | None:
    """The workspace file of ``module`` (what its wheel holds), if a member has it."""
    relative = Path(*module.split("."))
    for src in sorted(root.glob("packages/*/src")):
        for candidate in (src / relative.with_suffix(".py"), src / relative / "__init__.py"):
            if candidate.is_file():
                return candidate
    return None


def _assigned(path: Path, name: str) -> list[str]:
    """The strings a module assigns to ``name`` at its top level (``__all__ = [...]``)."""
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if (
            isinstance(node, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == name for t in node.targets)
            and isinstance(node.value, ast.List | ast.Tuple)
        ):
            elements = node.value.elts
            return [
                e.value
                for e in elements
                if isinstance(e, ast.Constant) and isinstance(e.value, str)
            ]
    return []


def plugin_fixtures(root: Path) -> dict[str, str]:
    """Fixture name -> plugin module, for the plugins ``root/conftest.py`` registers with
    ``pytest_plugins`` (what a test gets from the workspace without importing it)."""
    fixtures: dict[str, str] = {}
    for module in _assigned(root / "conftest.py", "pytest_plugins"):
        source = _source(root, module)
        if source is None:
            raise FileNotFoundError(
                f"pytest plugin {module} of {root}/conftest.py is not under packages/*/src"
            )
        # __all__ too: a plugin may re-export a fixture defined elsewhere.
        for name in read_needs(source).defines | set(_assigned(source, "__all__")):
            fixtures[name] = module
    return fixtures


def _importable(venv: Path, names: set[str]) -> set[str]:
    proc = subprocess.run(
        [str(venv / "bin" / "python"), "-I", "-c", _FIND, *sorted(names)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    found: list[str] = json.loads(proc.stdout)
    return set(found)


def _package(module: str) -> str:
    """The member package a module belongs to: ``hakiri.core.errors`` -> ``hakiri.core``."""
    return ".".join(module.split(".")[:2])


def _third_party(imports: frozenset[str]) -> set[str]:
    tops = {name.split(".")[0] for name in imports}
    return {
        t for t in tops if t not in sys.stdlib_module_names and t not in {"hakiri", "__future__"}
    }


def _lacks(
    needs: Needs, packages: set[str], installed: set[str], absent: dict[str, str]
) -> list[str]:
    """What of ``needs`` the environment lacks: ``hakiri`` packages outside the closure,
    uninstalled third-party packages, fixtures only ``absent`` (name -> origin) provides."""
    hakiri = {_package(name) for name in needs.imports if name.startswith("hakiri.")}
    missing = sorted(hakiri - packages) + sorted(_third_party(needs.imports) - installed)
    lacks = [f"imports {', '.join(missing)}"] if missing else []
    fixtures = sorted(needs.requests & absent.keys())
    lacks += [f"fixture {name} ({absent[name]})" for name in fixtures]
    return lacks


def _with_support(root: Path, needs: Needs, packages: set[str]) -> Needs:
    """``needs`` plus those of the test-support modules it imports from the closure (the
    ones defining fixtures, like ``hakiri.connectors.testing``): a test class inheriting a
    conformance suite asks for the suite's fixtures without naming them."""
    imports, requests = set(needs.imports), set(needs.requests)
    seen: set[str] = set()
    todo = [name for name in needs.imports if _package(name) in packages]
    while todo:
        module = todo.pop()
        if module in seen:
            continue
        seen.add(module)
        source = _source(root, module)
        support = read_needs(source) if source is not None else None
        if support is None or not support.defines:
            continue
        imports |= support.imports
        requests |= support.requests
        todo += [name for name in support.imports if _package(name) in packages]
    # A fixture the module defines itself overrides the suite's.
    return Needs(frozenset(imports), frozenset(requests - needs.defines), needs.defines)


def select_alone_tests(root: Path, venv: Path, member: str, closure: list[str]) -> AloneSelection:
    """``member``'s test modules that can run in ``venv``, which holds the distributions
    ``closure`` (``hakiri.testing.wheels.wheel_closure``) and their declared dependencies."""
    tests = root / "packages" / member / "tests"
    packages = {"hakiri." + name.removeprefix("hakiri-") for name in closure}
    modules = {
        path: _with_support(root, read_needs(path), packages)
        for path in sorted(tests.glob("test_*.py"))
    }
    conftest_path = tests / "conftest.py"
    conftest = (
        _with_support(root, read_needs(conftest_path), packages)
        if conftest_path.is_file()
        else None
    )
    every = [*modules.values(), *([conftest] if conftest else [])]
    installed = _importable(venv, set().union(*(_third_party(n.imports) for n in every)))
    absent = plugin_fixtures(root)
    left_out: dict[str, str] = {}
    if conftest is not None:
        conftest_lacks = _lacks(conftest, packages, installed, absent)
        if conftest_lacks:
            left_out["conftest.py"] = "; ".join(conftest_lacks)
            absent |= dict.fromkeys(conftest.defines, "conftest.py, left out")
    selected = []
    for path, needs in modules.items():
        lacks = _lacks(needs, packages, installed, absent)
        if lacks:
            left_out[path.name] = "; ".join(lacks)
        else:
            selected.append(path)
    return AloneSelection(
        member=member,
        tests=tests,
        selected=tuple(selected),
        conftest=conftest is not None and "conftest.py" not in left_out,
        left_out=left_out,
    )


def _pytest_config(root: Path) -> str:
    """The root's ``[tool.pytest.ini_options]`` (its strictness: warnings as errors, strict
    xfail and markers, import mode, timeout) for the copy; ``testpaths`` point into the
    workspace, so they stay behind."""
    options = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    ini = dict(options["tool"]["pytest"]["ini_options"])
    ini.pop("testpaths", None)
    # JSON's strings, numbers, booleans and lists are valid TOML values.
    lines = [f"{key} = {json.dumps(value)}" for key, value in ini.items()]
    return "[tool.pytest.ini_options]\n" + "\n".join(lines) + "\n"


def run_alone_tests(
    root: Path,
    venv: Path,
    selection: AloneSelection,
    work: Path,
    *,
    timeout: float = 300,
    test_timeout: int = 60,
) -> AloneRun:
    """Run ``selection`` with ``venv``'s pytest from a copy under ``work`` (outside the
    repository), stopping at the first failure; ``timeout`` seconds for the whole run,
    ``test_timeout`` for each test (pytest-timeout)."""
    copy = work / "tests"
    shutil.copytree(
        selection.tests, copy, ignore=shutil.ignore_patterns("__pycache__", ".hypothesis")
    )
    if not selection.conftest:
        (copy / "conftest.py").unlink(missing_ok=True)
    (work / "pyproject.toml").write_text(_pytest_config(root), encoding="utf-8")
    report = work / "report.json"
    # -I: no PYTHONPATH, no current directory, no user site on the path.
    cmd = [str(venv / "bin" / "python"), "-I", "-c", _RUNNER, str(report)]
    # Its own basetemp: the tests' tmp dirs stay under ``work``, out of the shared
    # /tmp/pytest-of-USER that the outer run (and other sessions) number and rotate.
    args = [
        "-x",
        "-q",
        "-p",
        "no:cacheprovider",
        f"--timeout={test_timeout}",
        f"--basetemp={work / 'basetemp'}",
    ]
    files = [str(copy / path.name) for path in selection.selected]
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"VIRTUAL_ENV", "PYTHONPATH"} and not key.startswith("PYTEST_")
    }
    proc = subprocess.run(
        [*cmd, *args, *files],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=work,
        env=env,
        check=False,
    )
    output = proc.stdout + proc.stderr
    if not report.is_file():
        raise AssertionError(f"the test run in {venv} wrote no report:\n{output}")
    data = json.loads(report.read_text(encoding="utf-8"))
    return AloneRun(
        exit_code=data["exit_code"],
        outcomes=data["outcomes"],
        modules=data["modules"],
        namespace=data["namespace"],
        sys_path=data["sys_path"],
        output=output,
    )
