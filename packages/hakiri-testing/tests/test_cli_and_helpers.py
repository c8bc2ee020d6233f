"""The demo API as a process, the fixtures and the test host."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from hakiri.core.errors import SecretError
from hakiri.testing.demo_api import DemoApi
from hakiri.testing.host import DictSecrets, TestHost
from hakiri.testing.net import free_port


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_module_serves_until_signalled(signum: int) -> None:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "hakiri.testing.demo_api", "--port", str(port), "--issues", "7"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline().strip()
        assert line == f"demo API listening on http://127.0.0.1:{port}"
        with httpx.Client() as client:
            issues = client.get(f"http://127.0.0.1:{port}/issues").json()
        assert [issue["id"] for issue in issues] == list(range(1, 8))
        process.send_signal(signum)
        out, err = process.communicate(timeout=20)
        assert process.returncode == 0, err
        assert err == ""
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()


def test_fixture_serves_on_loopback(demo_api: DemoApi) -> None:
    assert demo_api.url.startswith("http://127.0.0.1:")
    with httpx.Client() as client:
        assert client.get(f"{demo_api.url}/healthz").json() == {"status": "ok"}


def test_free_port_is_bindable() -> None:
    port = free_port()
    with DemoApi(port=port) as api:
        assert api.port == port


def test_test_host_defaults_and_secrets(tmp_path: Path) -> None:
    host = TestHost(tmp_path, secrets={"TOKEN": "value"})
    assert host.store_root == tmp_path / ".hakiri"
    assert host.secrets.resolve("TOKEN") == "value"
    with pytest.raises(SecretError, match="MISSING"):
        host.secrets.resolve("MISSING")
    assert isinstance(host.secrets, DictSecrets)
    assert host.secrets.lookups == ["TOKEN", "MISSING"]
    assert host.clock.now().tzinfo is not None
    with pytest.raises(RuntimeError, match="without a catalog"):
        _ = host.catalog


def test_module_reports_a_busy_port_on_one_line(demo_api: DemoApi) -> None:
    process = subprocess.run(
        [sys.executable, "-m", "hakiri.testing.demo_api", "--port", str(demo_api.port)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert process.returncode == 1
    assert process.stderr.startswith(f"error: cannot listen on 127.0.0.1:{demo_api.port}")
    assert process.stderr.count("\n") == 1
