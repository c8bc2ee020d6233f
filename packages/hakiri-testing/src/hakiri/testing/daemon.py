"""A real ``hakiri serve`` daemon as a subprocess, on a free port of 127.0.0.1.

Tests and benchmarks start it, talk to it over HTTP (plain ``urllib``, so nothing here
depends on an HTTP client library), signal it and read its log and memory.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from hakiri.testing.cli import _env, hakiri_executable
from hakiri.testing.net import free_port

__all__ = ["DaemonProcess", "HttpAnswer"]


class HttpAnswer:
    """A response: status, headers and the body (parsed as JSON when it is JSON)."""

    def __init__(self, status: int, headers: Any, body: bytes) -> None:
        self.status = status
        self.headers = dict(headers)
        self.body = body

    def json(self) -> Any:
        return json.loads(self.body)

    def __repr__(self) -> str:
        return f"HttpAnswer({self.status}, {self.body[:300]!r})"


class DaemonProcess:
    """``hakiri serve -p PROJECT --port <free>`` with its log in ``log_path``.

    ``executable`` runs another console script (e.g. ``hakiri-full`` from a fresh venv);
    ``token`` is passed in ``HAKIRI_SERVE_TOKEN`` and sent on every request.
    """

    def __init__(
        self,
        project: Path,
        *,
        args: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
        token: str | None = None,
        executable: str | None = None,
        log_path: Path | None = None,
        host: str = "127.0.0.1",
    ) -> None:
        self.project = project
        self.port = free_port()
        self.host = host
        self.url = f"http://127.0.0.1:{self.port}"
        self.token = token
        self.log_path = log_path or project.parent / f"serve-{self.port}.log"
        extra = dict(env or {})
        if token is not None:
            extra["HAKIRI_SERVE_TOKEN"] = token
        self._cmd = [
            executable or hakiri_executable(),
            "serve",
            "-p",
            str(project),
            "--host",
            host,
            "--port",
            str(self.port),
            *args,
        ]
        self._env = _env(extra)
        self.proc: subprocess.Popen[bytes] | None = None

    # -- life ----------------------------------------------------------------------------

    def start(self, timeout: float = 60.0) -> DaemonProcess:
        """Start the daemon and wait until ``/healthz`` answers."""
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                self._cmd,
                cwd=self.project,
                env=self._env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(
                    f"hakiri serve exited {self.proc.returncode} before serving:\n{self.log()}"
                )
            try:
                if self.get("/healthz", timeout=2).status == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.1)
        self.kill()
        raise AssertionError(f"hakiri serve did not answer within {timeout}s:\n{self.log()}")

    @property
    def pid(self) -> int:
        assert self.proc is not None, "not started"
        return self.proc.pid

    def signal(self, signum: int) -> None:
        assert self.proc is not None, "not started"
        self.proc.send_signal(signum)

    def stop(self, timeout: float = 60.0) -> int:
        """SIGTERM (drain) and wait for the exit status."""
        assert self.proc is not None, "not started"
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            message = f"hakiri serve ignored SIGTERM for {timeout}s:\n{self.log()}"
            raise AssertionError(message) from None

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def __enter__(self) -> DaemonProcess:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.proc is not None and self.proc.poll() is None:
            try:
                self.stop(timeout=30)
            except AssertionError:
                pass
        self.kill()

    # -- looking at it -------------------------------------------------------------------

    def log(self) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    def rss_kib(self) -> int:
        """Resident memory of the daemon process now (Linux ``/proc``)."""
        status = Path(f"/proc/{self.pid}/status").read_text()
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise AssertionError("no VmRSS in /proc status")

    # -- HTTP ----------------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        headers: Mapping[str, str] | None = None,
        timeout: float = 60.0,
    ) -> HttpAnswer:
        """One request; an HTTP error status is an answer, not an exception. Anything but a
        GET is sent as ``application/json``, as the daemon requires (an empty body if None)."""
        data = None if body is None else json.dumps(body).encode()
        if data is None and method != "GET":
            data = b""
        all_headers = {"Content-Type": "application/json"} if data is not None else {}
        if self.token is not None:
            all_headers["Authorization"] = f"Bearer {self.token}"
        all_headers.update(headers or {})
        req = urllib.request.Request(self.url + path, data=data, method=method, headers=all_headers)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                return HttpAnswer(resp.status, resp.headers, resp.read())
        except urllib.error.HTTPError as err:
            try:
                answer = err.read()
            except (ConnectionResetError, BrokenPipeError):
                # The server answered (a 413 from Content-Length) and closed before reading
                # the whole request: the kernel may reset the rest of the answer away.
                answer = b""
            return HttpAnswer(err.code, err.headers, answer)

    def get(self, path: str, **kwargs: Any) -> HttpAnswer:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, body: Any = None, **kwargs: Any) -> HttpAnswer:
        return self.request("POST", path, body, **kwargs)

    def wait_run(self, run_id: str, timeout: float = 120.0) -> dict[str, Any]:
        """Poll ``/v1/runs/{run_id}`` until the run has finished; its record."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            answer = self.get(f"/v1/runs/{run_id}")
            if answer.status == 200:
                run: dict[str, Any] = answer.json()["run"]
                if run["status"] not in ("running", "starting"):
                    return run
            time.sleep(0.1)
        raise AssertionError(f"run {run_id} did not finish within {timeout}s:\n{self.log()}")
