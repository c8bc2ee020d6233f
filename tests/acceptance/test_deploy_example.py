"""``examples/deploy``: the systemd unit, the compose file and the Dockerfile start the daemon
with options ``hakiri serve`` accepts, give it longer than its drain to stop, and the
container's health check works against a real daemon.

Neither an image build nor a real systemd is available here; ``systemd-analyze verify`` runs
when it is installed.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

from hakiri.agent.cli import serve_command
from hakiri.testing.cli import hakiri_executable
from hakiri.testing.daemon import DaemonProcess
from hakiri.testing.project import write_manifest

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "examples" / "deploy"
SCRIPTS = tomllib.loads((ROOT / "apps" / "hakiri-full" / "pyproject.toml").read_text())["project"][
    "scripts"
]


def _unit() -> dict[str, dict[str, list[str]]]:
    """The unit's sections -> key -> values (a key may repeat)."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] | None = None
    for raw in (DEPLOY / "hakiri.service").read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            current = sections.setdefault(line.strip("[]"), {})
            continue
        assert current is not None, f"a setting before any section: {line}"
        key, _, value = line.partition("=")
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


def _serve_params(argv: list[str]) -> dict[str, Any]:
    """Parse ``hakiri-full serve ARGS`` with the command's own option parser (an unknown
    option or a bad value raises)."""
    assert Path(argv[0]).name in SCRIPTS, f"{argv[0]}: not a console script of hakiri-full"
    assert argv[1] == "serve", argv
    params: dict[str, Any] = serve_command.make_context("serve", argv[2:]).params
    return params


def _compose() -> dict[str, Any]:
    yaml = pytest.importorskip("yaml")
    document: dict[str, Any] = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    return document


def _seconds(duration: str) -> float:
    match = re.fullmatch(r"(\d+)(s|m)", duration)
    assert match, f"unexpected duration {duration!r}"
    return int(match.group(1)) * (60 if match.group(2) == "m" else 1)


def test_unit_starts_serve_with_real_options() -> None:
    service = _unit()["Service"]
    [exec_start] = service["ExecStart"]
    params = _serve_params(shlex.split(exec_start))
    assert params["host"] == "127.0.0.1" and params["port"] == 7700
    project = str(params["project_dir"])
    assert service["WorkingDirectory"] == [project]
    assert project in service["ReadWritePaths"]
    assert service["User"] == ["hakiri"] and service["ProtectSystem"] == ["strict"]
    assert service["ExecReload"] == ["/bin/kill -HUP $MAINPID"]
    assert service["KillSignal"] == ["SIGTERM"] and service["Restart"] == ["on-failure"]
    assert float(service["TimeoutStopSec"][0]) > params["drain_timeout"]
    assert service["EnvironmentFile"], "the token and secrets come from an environment file"


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze")
def test_unit_passes_systemd_analyze_verify(tmp_path: Path) -> None:
    # verify checks that ExecStart's program exists: point it at an installed `hakiri`.
    text = (DEPLOY / "hakiri.service").read_text()
    unit = tmp_path / "hakiri.service"
    unit.write_text(text.replace("/opt/hakiri/bin/hakiri-full", hakiri_executable()))
    proc = subprocess.run(
        ["systemd-analyze", "verify", str(unit)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0 and not proc.stderr.strip(), proc.stderr


def test_compose_and_image_start_serve_with_real_options() -> None:
    service = _compose()["services"]["hakiri"]
    params = _serve_params(service["command"])
    assert params["host"] == "0.0.0.0" and str(params["project_dir"]) == "/srv/hakiri"
    assert any(v.endswith(":/srv/hakiri") for v in service["volumes"])
    assert _seconds(service["stop_grace_period"]) > params["drain_timeout"]
    assert service["stop_signal"] == "SIGTERM"
    assert [e["path"] for e in service["env_file"]] == ["hakiri.env"]

    dockerfile = (DEPLOY / "Dockerfile").read_text().splitlines()
    assert "FROM python:3.11-slim" in dockerfile and "STOPSIGNAL SIGTERM" in dockerfile
    [cmd] = [line.removeprefix("CMD ") for line in dockerfile if line.startswith("CMD ")]
    assert json.loads(cmd) == service["command"]


def test_env_example_ships_no_token() -> None:
    settings = dict(
        line.split("=", 1)
        for line in (DEPLOY / "hakiri.env.example").read_text().splitlines()
        if line and not line.startswith("#")
    )
    # Empty: a copied example fails closed off loopback instead of serving a known token.
    assert settings == {"HAKIRI_SERVE_TOKEN": ""}


def _healthcheck(code: str, port: int) -> int:
    code = code.replace("127.0.0.1:7700", f"127.0.0.1:{port}")
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, timeout=30, check=False
    )
    return proc.returncode


def test_compose_healthcheck_against_a_real_daemon(tmp_path: Path) -> None:
    test = _compose()["services"]["hakiri"]["healthcheck"]["test"]
    assert test[:3] == ["CMD", "python", "-c"], test
    assert "127.0.0.1:7700/healthz" in test[3]
    project = tmp_path / "project"
    write_manifest(project, "", name="deploy")
    daemon = DaemonProcess(project)
    with daemon:
        assert _healthcheck(test[3], daemon.port) == 0
        assert daemon.stop() == 0
    assert _healthcheck(test[3], daemon.port) != 0
