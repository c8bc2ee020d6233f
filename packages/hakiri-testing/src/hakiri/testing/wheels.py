"""Build the workspace's wheels and install a profile (``hakiri``, ``hakiri-full``) from them
into a fresh environment, the way a user gets it — for the release tests and benchmarks.

Where the Hakiri distributions come from is the point: a project on PyPI may carry the same
name (``hakiri``), so they are never resolved against an index. Two ways are offered:

- ``install_profile``: a fresh venv gets the third-party dependencies at the versions in
  ``uv.lock`` (``uv sync --frozen --no-install-workspace``), then the profile with
  ``uv pip install --no-index --find-links DIST`` — with no index at all, every ``hakiri*``
  distribution can only come from the built wheels, and a missing one fails the install.
- ``uvx_command``: ``uvx --from <profile wheel> --with <each hakiri wheel it needs> …``;
  a distribution given as a file is used for every requirement on that name, so the
  resolver never asks the index about it. Third-party versions are held to ``uv.lock``
  with ``--constraints``.

``install_test_tools`` adds pytest and the few test tools a member's own tests use to such a
venv, at the versions of the root's dev group in ``uv.lock``.

uv runs from its cache first (``--offline``) and goes online only when that fails.
"""

from __future__ import annotations

import email.parser
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterable, Mapping
from pathlib import Path

__all__ = [
    "TEST_TOOLS",
    "UvFailed",
    "build_wheels",
    "distribution_sizes",
    "export_constraints",
    "install_profile",
    "install_test_tools",
    "not_from_wheels",
    "site_packages",
    "uv",
    "uv_binary",
    "uvx_command",
    "wheel_closure",
    "wheel_extras",
]

# The test framework a member's own tests run with, not code under test: pytest, the timeout
# every run sets, and the property-based testing some tests use.
TEST_TOOLS = ("pytest", "pytest-timeout", "hypothesis")

_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


class UvFailed(RuntimeError):
    """A uv command failed both from the cache and online; the message holds its output."""


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def uv_binary(root: Path) -> str:
    """The uv to use: ``$UV`` (set by ``uv run``), the one on PATH if it runs (a pyenv shim
    can exist without a uv behind it), else the copy ``make bootstrap`` puts in ``.tools``."""
    candidates = (os.environ.get("UV"), shutil.which("uv"), str(root / ".tools" / "bin" / "uv"))
    for candidate in candidates:
        if not candidate or not Path(candidate).is_file():
            continue
        probe = subprocess.run(
            [candidate, "--version"], capture_output=True, timeout=30, check=False
        )
        if probe.returncode == 0:
            return candidate
    raise UvFailed("no working uv found (PATH, $UV, .tools/bin/uv): run `make bootstrap`")


def uv(
    root: Path,
    *args: str,
    env: Mapping[str, str] | None = None,
    timeout: float = 300,
) -> subprocess.CompletedProcess[str]:
    """Run ``uv ARGS`` in ``root``: from the cache first, online only if that fails."""
    # VIRTUAL_ENV names the dev venv under `uv run`; these commands target other envs.
    full_env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"} | dict(env or {})
    binary = uv_binary(root)
    failures = []
    for mode in (["--offline"], []):
        # A global option, so it goes before the subcommand: after `uv tool run … SCRIPT`
        # it would be the script's argument.
        cmd = [binary, *mode, *args]
        proc = subprocess.run(
            cmd,
            cwd=root,
            env=full_env,
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
            check=False,
        )
        if proc.returncode == 0:
            return proc
        failures.append(f"$ {' '.join(cmd)}\n{proc.stdout}{proc.stderr}")
    raise UvFailed("\n".join(failures))


def build_wheels(root: Path, dist: Path) -> dict[str, Path]:
    """``uv build --all-packages --no-sources`` into ``dist``: each member's canonical name
    -> its wheel."""
    uv(root, "build", "--all-packages", "--no-sources", "-o", str(dist))
    wheels = {}
    for wheel in sorted(dist.glob("*.whl")):
        wheels[_canonical(wheel.name.split("-", 1)[0])] = wheel
    return wheels


def _metadata(wheel: Path, field: str) -> list[str]:
    with zipfile.ZipFile(wheel) as archive:
        metadata = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        message = email.parser.Parser().parsestr(archive.read(metadata).decode())
    return message.get_all(field) or []


def _requires(wheel: Path) -> list[str]:
    return _metadata(wheel, "Requires-Dist")


def wheel_extras(wheel: Path) -> list[str]:
    """The extras the wheel's distribution declares (``Provides-Extra``), sorted."""
    return sorted(_metadata(wheel, "Provides-Extra"))


def wheel_closure(wheels: Mapping[str, Path], name: str) -> list[str]:
    """``name`` and every workspace distribution it requires (any extra), sorted."""
    seen: set[str] = set()
    todo = [_canonical(name)]
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        for requirement in _requires(wheels[current]):
            match = _NAME.match(requirement)
            if match and _canonical(match.group(1)) in wheels:
                todo.append(_canonical(match.group(1)))
    return sorted(seen)


def _python_version() -> str:
    return f"{sys.version_info.major}.{sys.version_info.minor}"


def install_profile(
    root: Path,
    venv: Path,
    wheels: Mapping[str, Path],
    app: str,
    *,
    python: str | None = None,
    compile_bytecode: bool = False,
    extras: Iterable[str] = (),
) -> None:
    """A fresh venv holding ``app`` from ``wheels`` (with ``extras`` of its own) and its
    third-party dependencies at the versions locked in ``root/uv.lock``."""
    version = wheels[_canonical(app)].name.split("-")[1]
    chosen = sorted(extras)
    compile_flag = ["--compile-bytecode"] if compile_bytecode else []
    uv(root, "venv", str(venv), "--python", python or sys.executable)
    uv(
        root,
        "sync",
        "--frozen",
        "--package",
        app,
        "--no-default-groups",
        "--no-install-workspace",
        *(arg for extra in chosen for arg in ("--extra", extra)),
        *compile_flag,
        env={"UV_PROJECT_ENVIRONMENT": str(venv)},
    )
    dist = {wheel.parent for wheel in wheels.values()}
    links = [arg for d in sorted(dist) for arg in ("--find-links", str(d))]
    uv(
        root,
        "pip",
        "install",
        "--python",
        str(venv),
        "--no-index",
        *links,
        *compile_flag,
        f"{app}[{','.join(chosen)}]=={version}" if chosen else f"{app}=={version}",
    )


def site_packages(venv: Path) -> Path:
    """The venv's ``site-packages`` directory."""
    found = sorted(venv.glob("lib/python3*/site-packages"))
    if len(found) != 1:
        raise AssertionError(f"expected one site-packages under {venv}, found {found}")
    return found[0]


def not_from_wheels(venv: Path, wheels: Iterable[Path]) -> list[str]:
    """Files of ``wheels`` that the venv lacks or holds with other bytes (empty: every file
    installed came from these wheels)."""
    site = site_packages(venv)
    problems = []
    for wheel in wheels:
        with zipfile.ZipFile(wheel) as archive:
            for member in archive.infolist():
                # RECORD is rewritten at install (it lists the scripts uv generates).
                if member.is_dir() or member.filename.endswith(".dist-info/RECORD"):
                    continue
                installed = site / member.filename
                if not installed.is_file():
                    problems.append(f"{wheel.name}: {member.filename} not installed")
                elif installed.read_bytes() != archive.read(member):
                    problems.append(f"{wheel.name}: {member.filename} differs")
    return problems


_SIZES = """
import json, os
from importlib.metadata import distributions
sizes = {}
for dist in distributions():
    total = 0
    for file in dist.files or ():
        try:
            total += os.path.getsize(dist.locate_file(file))
        except OSError:
            pass
    sizes[dist.metadata["Name"]] = total
print(json.dumps(sizes))
"""


def distribution_sizes(venv: Path) -> dict[str, int]:
    """Bytes on disk of each distribution installed in ``venv`` (from its RECORD)."""
    proc = subprocess.run(
        [str(venv / "bin" / "python"), "-c", _SIZES],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    sizes: dict[str, int] = json.loads(proc.stdout)
    return sizes


def _locked(root: Path, *selection: str) -> str:
    """``uv export`` of ``selection`` as pinned requirements, no workspace member in them."""
    return uv(
        root,
        "export",
        "--frozen",
        *selection,
        "--no-emit-workspace",
        "--no-hashes",
        "--no-header",
        "--no-annotate",
    ).stdout


def export_constraints(root: Path, app: str, path: Path) -> Path:
    """The third-party versions ``app`` resolves to in ``uv.lock``, as a constraints file."""
    path.write_text(_locked(root, "--package", app, "--no-dev"), encoding="utf-8")
    return path


def install_test_tools(root: Path, venv: Path, tools: Iterable[str] = TEST_TOOLS) -> None:
    """``tools`` (and what they require) into ``venv`` at the versions the root's dev group
    has in ``uv.lock``; no workspace member comes with them (the export leaves them out)."""
    names = [_canonical(tool) for tool in tools]
    locked = _locked(root, "--only-group", "dev")
    pinned = {_canonical(m.group(1)) for line in locked.splitlines() if (m := _NAME.match(line))}
    # A tool outside the lock would install at whatever version the index has today.
    unpinned = sorted(set(names) - pinned)
    if unpinned:
        raise UvFailed(
            f"{', '.join(unpinned)} not in uv.lock's dev group: add to [dependency-groups] dev"
        )
    with tempfile.TemporaryDirectory() as scratch:
        constraints = Path(scratch) / "dev.txt"
        constraints.write_text(locked, encoding="utf-8")
        uv(root, "pip", "install", "--python", str(venv), "--constraints", str(constraints), *names)


def uvx_command(
    root: Path,
    wheels: Mapping[str, Path],
    app: str,
    *,
    constraints: Path | None = None,
    compile_bytecode: bool = False,
) -> list[str]:
    """The argv that runs ``app``'s console script through ``uvx`` from uv's cache, every
    Hakiri distribution taken from its built wheel; append the script's own arguments.

    Prepared first (``app --version``, online if the cache cannot resolve it), so the
    command works offline.
    """
    siblings = [n for n in wheel_closure(wheels, app) if n != _canonical(app)]
    args = [
        "tool",
        "run",
        "--isolated",
        *(["--constraints", str(constraints)] if constraints is not None else []),
        *(["--compile-bytecode"] if compile_bytecode else []),
        "--from",
        str(wheels[_canonical(app)]),
        *(arg for name in siblings for arg in ("--with", str(wheels[name]))),
        app,
    ]
    uv(root, *args, "--version")
    return [uv_binary(root), "--offline", *args]
