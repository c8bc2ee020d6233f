"""The ``hakiri-full`` profile from the wheels ``uv build --all-packages`` makes.

The wheels are built once; ``hakiri-full`` is installed from them into a fresh venv (the
Hakiri distributions with ``--no-index``, so none can come from an index — see
``hakiri.testing.wheels``) and also run through ``uvx``. Its ``hakiri-full serve`` must answer
``/healthz``, run a pipeline and answer a query over HTTP and over MCP, from that
environment's own files. The plain ``hakiri`` profile, from the same wheels, must hold none
of the daemon's dependencies.
"""

from __future__ import annotations

import re
import shlex
import subprocess
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client

from hakiri.testing.daemon import DaemonProcess
from hakiri.testing.project import write_manifest
from hakiri.testing.wheels import (
    build_wheels,
    distribution_sizes,
    export_constraints,
    install_profile,
    not_from_wheels,
    site_packages,
    uvx_command,
    wheel_closure,
)

pytestmark = pytest.mark.timeout(600)

ROOT = Path(__file__).resolve().parents[2]
APP = "hakiri-full"
DAEMON_ONLY = {
    "hakiri-agent",
    "mcp",
    "starlette",
    "uvicorn",
    "sse-starlette",
    "polars",
    "wasmtime",
}
"""Distributions the daemon profile adds; the plain profile (a Lambda layer) must not hold them."""
ROWS = 3


@pytest.fixture(scope="session")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return build_wheels(ROOT, tmp_path_factory.mktemp("dist"))


@pytest.fixture(scope="session")
def full_env(tmp_path_factory: pytest.TempPathFactory, wheels: dict[str, Path]) -> Path:
    venv = tmp_path_factory.mktemp("full") / "venv"
    install_profile(ROOT, venv, wheels, APP)
    return venv


def _canonical_names(venv: Path) -> set[str]:
    return {re.sub(r"[-_.]+", "-", name).lower() for name in distribution_sizes(venv)}


def _project(root: Path) -> Path:
    write_manifest(
        root,
        """
[pipelines.orders.source]
connector = "file"
path = "orders.csv"
""",
        name="profile_full",
    )
    rows = "".join(f"{i},customer {i}\n" for i in range(1, ROWS + 1))
    (root / "orders.csv").write_text(f"id,customer\n{rows}", encoding="utf-8")
    return root


def _cmdline(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")[:-1]


def _mapped_files(pid: int) -> set[str]:
    """Files the process has mapped (its shared libraries, among them the extension modules
    of the environment it imports from)."""
    lines = Path(f"/proc/{pid}/maps").read_text().splitlines()
    return {parts[5] for parts in (line.split(maxsplit=5) for line in lines) if len(parts) > 5}


def _assert_runs_from(pid: int, venv: Path) -> None:
    site = str(site_packages(venv)) + "/"
    mapped = _mapped_files(pid)
    assert any(path.startswith(site) for path in mapped), f"nothing mapped from {site}"
    workspace = str(ROOT / ".venv") + "/"
    leaked = sorted(path for path in mapped if path.startswith(workspace))
    assert not leaked, f"the daemon loaded files of the workspace venv: {leaked}"


def test_the_profile_is_installed_from_the_built_wheels(
    full_env: Path, wheels: dict[str, Path]
) -> None:
    ours = wheel_closure(wheels, APP)
    assert {"hakiri", "hakiri-agent", "hakiri-connectors", "hakiri-full"} <= set(ours)
    assert "hakiri-testing" not in ours
    assert not not_from_wheels(full_env, [wheels[name] for name in ours])
    names = _canonical_names(full_env)
    installed = {name for name in names if name.startswith("hakiri")}
    assert installed == set(ours)
    assert DAEMON_ONLY <= names, sorted(DAEMON_ONLY - names)  # the wasm extra among them


def test_help_lists_serve_and_mcp(full_env: Path) -> None:
    proc = subprocess.run(
        [str(full_env / "bin" / APP), "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    for command in ("serve", "mcp", "run", "query"):
        assert re.search(rf"^\s+{command}\b", proc.stdout, re.MULTILINE), proc.stdout


async def _mcp_count(url: str) -> Any:
    with anyio.fail_after(60):
        async with (
            streamable_http_client(f"{url}/mcp") as (read, write),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            result = await session.call_tool(
                "context.query", {"sql": "select count(*) as n from orders"}
            )
            assert not result.is_error, result.content
            assert result.structured_content is not None
            return result.structured_content["rows"]


def test_serve_from_the_fresh_environment(full_env: Path, tmp_path: Path) -> None:
    project = _project(tmp_path / "project")
    script = full_env / "bin" / APP
    with DaemonProcess(project, executable=str(script)) as daemon:
        # The console script of the fresh env runs, on that env's python and libraries.
        assert _cmdline(daemon.pid)[:2] == [str(full_env / "bin" / "python"), str(script)]
        _assert_runs_from(daemon.pid, full_env)

        health = daemon.get("/healthz").json()
        assert health["status"] == "ok" and health["pipelines"] == {"orders": None}

        started = daemon.post("/v1/pipelines/orders/runs")
        assert started.status == 202, started
        run = daemon.wait_run(started.json()["run_id"])
        assert run["status"] == "succeeded", daemon.log()

        answer = daemon.post("/v1/query", {"sql": "select count(*) as n from orders"})
        assert answer.status == 200, answer
        assert answer.json()["rows"] == [[ROWS]]
        assert anyio.run(_mcp_count, daemon.url) == [[ROWS]]
        assert daemon.stop() == 0


def test_uvx_hakiri_full_serve(wheels: dict[str, Path], tmp_path: Path) -> None:
    # `uvx hakiri-full serve`, with every Hakiri distribution from the built wheels and the
    # third-party versions of uv.lock. DaemonProcess runs one executable: uvx goes in a script.
    constraints = export_constraints(ROOT, APP, tmp_path / "constraints.txt")
    command = uvx_command(ROOT, wheels, APP, constraints=constraints)
    wrapper = tmp_path / APP
    wrapper.write_text(f'#!/bin/sh\nexec {shlex.join(command)} "$@"\n')
    wrapper.chmod(0o755)
    project = tmp_path / "project"
    write_manifest(project, "", name="empty")
    with DaemonProcess(project, executable=str(wrapper)) as daemon:
        health = daemon.get("/healthz").json()
        assert health["status"] == "ok" and health["pipelines"] == {}
        # uv stays the parent; the daemon is its child, in the environment uvx made.
        [child] = _children(daemon.pid)
        python = Path(_cmdline(child)[0])
        assert _cmdline(child)[1:3] == [str(python.with_name(APP)), "serve"]
        _assert_runs_from(child, python.parent.parent)
        # SIGTERM to uv reaches the daemon, which drains and exits 0.
        assert daemon.stop() == 0


def _children(pid: int) -> list[int]:
    return [
        int(child)
        for task in Path(f"/proc/{pid}/task").iterdir()
        for child in (task / "children").read_text().split()
    ]


def test_plain_profile_holds_no_daemon(wheels: dict[str, Path], tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    install_profile(ROOT, venv, wheels, "hakiri")
    installed = _canonical_names(venv)
    assert "hakiri" in installed
    assert not DAEMON_ONLY & installed, sorted(DAEMON_ONLY & installed)
    probe = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import hakiri.agent"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert probe.returncode != 0 and "ModuleNotFoundError" in probe.stderr, probe.stderr
    help_text = subprocess.run(
        [str(venv / "bin" / "hakiri"), "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    assert re.search(r"^\s+run\b", help_text, re.MULTILINE), help_text
    assert not re.search(r"^\s+(serve|mcp)\b", help_text, re.MULTILINE), help_text
