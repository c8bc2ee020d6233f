"""Who may talk to the daemon: a bearer token off loopback, and refusals at start-up.

Real ``hakiri serve`` subprocesses. A daemon bound to 0.0.0.0 (with a token) is reached at
127.0.0.1; the refusals are checked on the command's exit status, its one line on stderr
and on the port, where nothing may be listening.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from hakiri.testing.cli import CliResult, run_hakiri
from hakiri.testing.daemon import DaemonProcess
from hakiri.testing.net import free_port
from hakiri.testing.project import write_manifest

pytestmark = pytest.mark.timeout(120)

_TOKEN = "serve-test-token-0123456789abcdef"


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # The source is never read here: nothing runs, so any URL will do.
    root = tmp_path_factory.mktemp("serve-security") / "project"
    write_manifest(
        root,
        """
[pipelines.issues.source]
connector = "http"
url = "http://127.0.0.1:9/issues"
""",
    )
    return root


def _serve(project: Path, *args: str, env: dict[str, str] | None = None) -> CliResult:
    return run_hakiri("serve", "-p", str(project), *args, cwd=project, env=env, timeout=30)


def _one_error_line(result: CliResult, code: str) -> str:
    assert result.returncode != 0, result
    assert result.stdout == "", result
    [line] = result.stderr.splitlines()
    assert line.startswith(f"error[{code}]: "), line
    return line


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(5)
        return probe.connect_ex(("127.0.0.1", port)) == 0


# -- refusals at start-up ---------------------------------------------------------------------


def test_binding_off_loopback_without_a_token_is_refused(project: Path) -> None:
    port = free_port()
    result = _serve(project, "--host", "0.0.0.0", "--port", str(port))
    line = _one_error_line(result, "config_invalid")
    assert "0.0.0.0" in line and "needs a bearer token" in line, line
    assert "HAKIRI_SERVE_TOKEN" in line  # the hint says how to give one
    assert not _listening(port)


@pytest.mark.parametrize("how", ["env", "file"])
def test_a_short_token_is_refused(project: Path, tmp_path: Path, how: str) -> None:
    port = free_port()
    if how == "env":
        result = _serve(project, "--port", str(port), env={"HAKIRI_SERVE_TOKEN": "short-token"})
    else:
        token_file = tmp_path / "token"
        token_file.write_text("short-token\n", encoding="utf-8")
        result = _serve(
            project, "--host", "0.0.0.0", "--port", str(port), "--token-file", str(token_file)
        )
    line = _one_error_line(result, "config_invalid")
    assert "11 characters; at least 16" in line, line
    assert not _listening(port)


def test_a_port_in_use_is_one_line_and_a_non_zero_exit(project: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen(1)
        port = holder.getsockname()[1]
        result = _serve(project, "--port", str(port))
    line = _one_error_line(result, "config_invalid")
    assert f"cannot listen on 127.0.0.1:{port}" in line, line


@pytest.mark.parametrize("value", ["evil.example", "http://app.example/path", "*", "ftp://x"])
def test_an_allow_origin_that_is_not_an_origin_is_refused(project: Path, value: str) -> None:
    port = free_port()
    result = _serve(project, "--port", str(port), "--allow-origin", value)
    line = _one_error_line(result, "config_invalid")
    assert line.startswith(f"error[config_invalid]: --allow-origin {value!r}"), line
    assert not _listening(port)


# -- a daemon with a token --------------------------------------------------------------------


@pytest.fixture(scope="module")
def guarded(project: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaemonProcess]:
    """A daemon on 0.0.0.0 with the token from ``--token-file``; requests carry no token
    unless a test sends one."""
    token_file = tmp_path_factory.mktemp("token") / "token"
    token_file.write_text(f"{_TOKEN}\n", encoding="utf-8")
    daemon = DaemonProcess(project, host="0.0.0.0", args=["--token-file", str(token_file)])
    with daemon:
        yield daemon
    assert daemon.proc is not None and daemon.proc.returncode == 0, daemon.log()


_GUARDED = [
    ("GET", "/openapi.json"),
    ("GET", "/v1/pipelines"),
    ("GET", "/v1/pipelines/issues"),
    ("POST", "/v1/pipelines/issues/runs"),
    ("GET", "/v1/runs"),
    ("GET", "/v1/runs/nope/events"),
    ("POST", "/v1/query"),
    ("GET", "/v1/tables"),
    ("POST", "/mcp"),
    ("GET", "/no/such/path"),
]


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer wrong-token-0123456789abcdef", f"Bearer {_TOKEN}x", _TOKEN, f"Basic {_TOKEN}"],
)
def test_without_the_right_token_every_path_but_healthz_is_401(
    guarded: DaemonProcess, authorization: str | None
) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    for method, path in _GUARDED:
        answer = guarded.request(method, path, {"sql": "select 1"}, headers=headers)
        assert answer.status == 401, (method, path, answer)
        assert answer.headers.get("www-authenticate") == "Bearer", answer.headers
        error = answer.json()["error"]
        assert error["code"] == "unauthorized", error
        expected = "a bearer token is required" if authorization is None else "wrong bearer token"
        assert error["message"] == expected and "Authorization: Bearer" in error["hint"]
    assert guarded.get("/healthz", headers=headers).status == 200


def test_the_right_token_is_served_and_any_host_header_with_it(guarded: DaemonProcess) -> None:
    auth = {"Authorization": f"Bearer {_TOKEN}"}
    pipelines = guarded.get("/v1/pipelines", headers=auth)
    assert pipelines.status == 200
    assert [p["name"] for p in pipelines.json()["pipelines"]] == ["issues"]
    document = guarded.get("/openapi.json", headers=auth).json()
    assert document["security"] == [{"bearer": []}]
    # Off loopback the token is the guard: the Host header a proxy sends is not checked.
    answer = guarded.get("/v1/pipelines", headers={**auth, "Host": "hakiri.internal.example"})
    assert answer.status == 200
    # The auth scheme is case-insensitive (RFC 9110 § 11.1); the token is not.
    assert guarded.get("/v1/pipelines", headers={"Authorization": f"bearer {_TOKEN}"}).status == 200
    upper = {"Authorization": f"Bearer {_TOKEN.upper()}"}
    assert guarded.get("/v1/pipelines", headers=upper).status == 401
    assert guarded.get("/healthz").json()["status"] == "ok"


def test_a_foreign_origin_is_refused_even_with_the_token(guarded: DaemonProcess) -> None:
    # The token is not a web page's to have, but the Origin check does not depend on it.
    headers = {"Authorization": f"Bearer {_TOKEN}", "Origin": "http://evil.example"}
    for method, path in _GUARDED:
        answer = guarded.request(method, path, {"sql": "select 1"}, headers=headers)
        assert answer.status == 403, (method, path, answer)
        assert answer.json()["error"]["code"] == "origin_not_allowed", answer
    # Behind a proxy the daemon's own origin is the one the Host header names.
    own = {**headers, "Host": "hakiri.internal.example", "Origin": "http://hakiri.internal.example"}
    assert guarded.get("/v1/pipelines", headers=own).status == 200
