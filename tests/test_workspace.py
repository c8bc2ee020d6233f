"""Workspace rules that uv does not enforce, and the release check (build, install clean, run)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
ROOT_PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
APP = "hakiri"
HEAVY_MODULES = ("pyarrow", "duckdb", "sqlalchemy")


@dataclass(frozen=True)
class Member:
    path: Path
    pyproject: dict[str, Any]

    @property
    def project(self) -> dict[str, Any]:
        return self.pyproject["project"]  # type: ignore[no-any-return]

    @property
    def name(self) -> str:
        return canonicalize_name(self.project["name"])

    @property
    def version(self) -> str:
        return str(self.project.get("version", ""))

    @property
    def is_app(self) -> bool:
        return self.path.parent.name == "apps"

    def requirements(self, extras: frozenset[str] | None = None) -> list[Requirement]:
        """The base dependencies plus those of `extras` (every extra when None)."""
        optional: dict[str, list[str]] = self.project.get("optional-dependencies", {})
        chosen = optional.keys() if extras is None else extras & optional.keys()
        specs = [*self.project.get("dependencies", []), *(s for e in chosen for s in optional[e])]
        return [Requirement(s) for s in specs]


def _members() -> list[Member]:
    patterns: list[str] = ROOT_PYPROJECT["tool"]["uv"]["workspace"]["members"]
    paths = sorted(
        {p for pat in patterns for p in ROOT.glob(pat) if (p / "pyproject.toml").is_file()}
    )
    return [Member(p, tomllib.loads((p / "pyproject.toml").read_text())) for p in paths]


MEMBERS = _members()
BY_NAME = {m.name: m for m in MEMBERS}
member_params = pytest.mark.parametrize("member", MEMBERS, ids=[m.name for m in MEMBERS])


def _siblings(
    member: Member, extras: frozenset[str] | None = None
) -> list[tuple[Requirement, Member]]:
    """The member's requirements on other workspace members, with those members."""
    return [
        (req, BY_NAME[canonicalize_name(req.name)])
        for req in member.requirements(extras)
        if canonicalize_name(req.name) in BY_NAME
    ]


def test_workspace_members_are_found() -> None:
    # Guards every parametrized test below against passing vacuously on an empty glob.
    assert {"hakiri-core", APP} <= BY_NAME.keys()


@member_params
def test_version_is_static(member: Member) -> None:
    assert "version" not in member.project.get("dynamic", []), f"{member.name}: dynamic version"
    assert member.version, f"{member.name}: no [project] version"
    Version(member.version)  # raises on a version that is not PEP 440


@member_params
def test_sibling_requirements_admit_current_versions(member: Member) -> None:
    problems = []
    for req, sibling in _siblings(member):
        operators = [spec.operator for spec in req.specifier]
        if not req.specifier.contains(sibling.version, prereleases=True):
            problems.append(f"{req} does not admit {sibling.name} {sibling.version}")
        if member.is_app and operators != ["=="]:
            problems.append(f"{req}: an app pins siblings exactly (==)")
        if not member.is_app and (
            {"==", "==="} & set(operators) or not {"<", "~="} & set(operators)
        ):
            problems.append(f"{req}: a library needs a compatible range such as >=0.1,<0.2")
        missing_extras = req.extras - sibling.project.get("optional-dependencies", {}).keys()
        if missing_extras:
            problems.append(f"{req}: {sibling.name} has no extra {sorted(missing_extras)}")
    assert not problems, f"{member.name}:\n" + "\n".join(problems)


@member_params
def test_namespace_layout(member: Member) -> None:
    namespace = member.path / "src" / "hakiri"
    # One stray hakiri/__init__.py shadows the namespace and breaks every other member.
    assert not (namespace / "__init__.py").exists(), f"{namespace}/__init__.py breaks PEP 420"
    if member.is_app:
        return
    leaves = [d for d in namespace.iterdir() if d.is_dir() and d.name != "__pycache__"]
    assert leaves, f"{member.name}: nothing under {namespace}"
    untyped = [str(d.relative_to(ROOT)) for d in leaves if not (d / "py.typed").is_file()]
    assert not untyped, f"missing py.typed in {untyped}"


@member_params
def test_wheel_config(member: Member) -> None:
    wheel = member.pyproject["tool"]["hatch"]["build"]["targets"]["wheel"]
    if member.is_app:
        assert wheel.get("bypass-selection") is True and "packages" not in wheel, wheel
    else:
        assert wheel.get("packages") == ["src/hakiri"], wheel


def test_root_sources_list_every_member() -> None:
    sources: dict[str, Any] = {
        canonicalize_name(k): v for k, v in ROOT_PYPROJECT["tool"]["uv"]["sources"].items()
    }
    wrong = {
        name: sources.get(name) for name in BY_NAME if sources.get(name) != {"workspace": True}
    }
    assert not wrong, f"root [tool.uv.sources] needs {{ workspace = true }} for {wrong}"


def test_core_import_stays_light() -> None:
    # A fresh interpreter: this test process may already have imported the heavy modules.
    code = f"import sys, hakiri.core; print([m for m in {HEAVY_MODULES!r} if m in sys.modules])"
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]", f"import hakiri.core loaded {proc.stdout.strip()}"


def _uv_binary() -> str:
    # `uv run` exports UV; otherwise the uv on PATH or the one `make bootstrap` installed.
    for candidate in (os.environ.get("UV"), shutil.which("uv"), str(ROOT / ".tools/bin/uv")):
        if candidate and Path(candidate).is_file():
            return candidate
    pytest.fail("no uv found: run `make bootstrap`")


def _uv(*args: str, env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run uv from its cache first (works without a network), online only for a cold cache."""
    # VIRTUAL_ENV points at the dev venv under `uv run`; the commands here target other envs.
    full_env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"} | dict(env or {})
    failures = []
    for mode in (["--offline"], []):
        cmd = [_uv_binary(), *args, *mode]
        proc = subprocess.run(
            cmd, cwd=ROOT, env=full_env, capture_output=True, text=True, timeout=240, check=False
        )
        if proc.returncode == 0:
            return proc
        failures.append(f"$ {' '.join(cmd)}\n{proc.stdout}{proc.stderr}")
    pytest.fail("\n".join(failures))


def _sibling_closure(name: str, extras: frozenset[str] = frozenset()) -> set[str]:
    """Every workspace member that installing `name[extras]` brings in, itself included."""
    seen: set[tuple[str, frozenset[str]]] = set()
    todo = [(name, extras)]
    while todo:
        item = todo.pop()
        if item not in seen:
            seen.add(item)
            todo.extend(
                (s.name, frozenset(r.extras)) for r, s in _siblings(BY_NAME[item[0]], item[1])
            )
    return {n for n, _ in seen}


def test_release_build_installs_clean_and_runs(tmp_path: Path) -> None:
    dist, venv = tmp_path / "dist", tmp_path / "venv"
    app = BY_NAME[APP]
    _uv("build", "--all-packages", "--no-sources", "-o", str(dist))

    # An app is a metapackage: its wheel holds metadata and no code.
    with zipfile.ZipFile(dist / f"{APP}-{app.version}-py3-none-any.whl") as wheel:
        names = wheel.namelist()
    shipped = [n for n in names if not n.startswith(f"{APP}-{app.version}.dist-info/")]
    assert not shipped, f"the {APP} wheel ships code: {shipped}"

    _uv("venv", str(venv), "--python", sys.executable)
    # Third-party dependencies first, at the versions in uv.lock (from uv's cache when it has
    # them); workspace members are left out here...
    _uv(
        "sync",
        "--frozen",
        "--package",
        APP,
        "--no-default-groups",
        "--no-install-workspace",
        env={"UV_PROJECT_ENVIRONMENT": str(venv)},
    )
    # ...so that, with no index at all, every hakiri* distribution comes from the built wheels.
    _uv(
        "pip",
        "install",
        "--python",
        str(venv),
        "--no-index",
        "--find-links",
        str(dist),
        f"{APP}=={app.version}",
    )

    listed = json.loads(_uv("pip", "list", "--python", str(venv), "--format", "json").stdout)
    installed = {
        canonicalize_name(d["name"]): d["version"]
        for d in listed
        if canonicalize_name(d["name"]).startswith("hakiri")
    }
    assert installed == {name: BY_NAME[name].version for name in _sibling_closure(APP)}

    # The CLI lists a plugin command even when it cannot import, so load every plugin
    # (commands, connectors, catalogs) here: a module missing from a wheel fails this.
    load_plugins = (
        "from importlib.metadata import distributions\n"
        "for ep in (ep for d in distributions() for ep in d.entry_points):\n"
        "    if ep.group.startswith('hakiri.'): ep.load()"
    )
    for cmd in (
        [str(venv / "bin" / "python"), "-c", load_plugins],
        [str(venv / "bin" / APP), "--help"],
    ):
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)
        assert proc.returncode == 0, f"$ {' '.join(cmd)}\n{proc.stdout}{proc.stderr}"
    for command in ("run", "query"):
        assert re.search(rf"^\s+{command}\b", proc.stdout, re.MULTILINE), proc.stdout
