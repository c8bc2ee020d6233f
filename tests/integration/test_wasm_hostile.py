"""Hostile WebAssembly connectors are contained, each with its typed error.

One guest (``wasm_guests/hostile``) misbehaves in the way its option ``mode`` picks: an
infinite loop, a memory bomb, a log flood, a fetch to a host it may not reach (directly or
through a redirect), a secret it was never given, a secret it tries to read back. Each case
runs through a real ``hakiri run`` of a pipeline with ``connector = "wasm:…"`` and a
``grant``; the guest first answers a harmless page (so the run exists in the catalog), then
attacks. A failing case must end the run ``failed`` with one ``error[<code>]:`` line, leave
the committed store exactly as it was, never reach the "ungranted" server, and the next good
run of the same project must succeed. A component declaring a host its pipeline does not
grant must fail to load, before any request. Finally one in-process sequence runs every
case one after another through ``load_connector(...).create`` and then a good call, proving
the host process stays healthy.

Two local servers play the network: ``granted`` (the only host the grant names) and
``ungranted`` (a host the guest knows about but must never reach).
"""

from __future__ import annotations

import json
import logging
import secrets
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import pyarrow.parquet as pq
import pytest

from hakiri.context.catalog.sqlite import open_sqlite_catalog
from hakiri.core.errors import HakiriError
from hakiri.core.plugins import load_connector
from hakiri.core.ports import Source
from hakiri.core.records import Page, PageData, RunRecord
from hakiri.testing.cli import CliResult, run_hakiri
from hakiri.testing.demo_api import DemoApi
from hakiri.testing.host import TestHost
from hakiri.testing.project import store_fingerprint, write_manifest
from hakiri.testing.wasm import build_component

GUEST = Path(__file__).resolve().parent / "wasm_guests" / "hostile"
SECRET_NAME = "API_TOKEN"
# Random per session, so finding it anywhere can only mean it leaked from this test.
SECRET = f"hk-secret-{secrets.token_hex(12)}"
COMMITTED = ("tables", "files", "schema_versions", "cursors")
"""The catalog tables of the committed state (a failed run adds only its own record)."""


@dataclass(frozen=True, slots=True)
class Network:
    granted: DemoApi
    ungranted: DemoApi

    @property
    def granted_host(self) -> str:
        return f"127.0.0.1:{self.granted.port}"

    @property
    def ungranted_host(self) -> str:
        return f"127.0.0.1:{self.ungranted.port}"


@dataclass(frozen=True, slots=True)
class Case:
    """A hostile pipeline: its guest options, grant limits and the error that stops it."""

    name: str
    code: str
    options: dict[str, Any]
    limits: dict[str, int]


def _cases(net: Network) -> list[Case]:
    granted, ungranted = net.granted.url, net.ungranted.url
    return [
        # A huge (default) budget of fuel, a 1 s wall-clock deadline.
        Case("loop", "wasm_timeout", {"mode": "loop"}, {"timeout_seconds": 1}),
        # The default (long) deadline, a small budget of fuel.
        Case("fuel", "wasm_fuel_exhausted", {"mode": "loop"}, {"fuel": 200_000_000}),
        Case("memory", "wasm_memory_limit", {"mode": "memory"}, {"memory_mb": 48}),
        Case("log_flood", "wasm_log_limit", {"mode": "log"}, {"log_bytes_per_second": 1024}),
        Case(
            "undeclared_host",
            "capability_denied",
            {"mode": "fetch", "target": f"{ungranted}/anything/undeclared"},
            {},
        ),
        Case(
            "redirect",
            "capability_denied",
            {
                "mode": "fetch",
                "target": f"{granted}/redirect-to?url={ungranted}/anything/redirected",
            },
            {},
        ),
        Case(
            "secret_other",
            "capability_denied",
            {"mode": "secret_other", "url": f"{granted}/anything/other"},
            {},
        ),
    ]


def _echo_options(net: Network) -> dict[str, Any]:
    return {
        "mode": "echo",
        "url": f"{net.granted.url}/anything/echo",
        "token": f"secret://{SECRET_NAME}",
    }


def _toml(value: Any) -> str:
    """A TOML value for the plain data these manifests hold (JSON's syntax is TOML's for
    strings, numbers and arrays; tables become inline tables)."""
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + " }"
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return json.dumps(value)


def _capability_manifest(name: str, hosts: list[str]) -> str:
    return f"""[connector]
name = "{name}"
version = "0.1.0"
description = "misbehaves on purpose"

[capabilities]
hosts = {_toml(hosts)}
secrets = ["{SECRET_NAME}"]
"""


def _pipeline(name: str, connector: str, options: dict[str, Any], grant: dict[str, Any]) -> str:
    lines = [f"[pipelines.{name}.source]", f'connector = "wasm:{connector}"']
    lines += [f"{key} = {_toml(value)}" for key, value in options.items()]
    lines.append(f"grant = {_toml(grant)}")
    return "\n".join(lines) + "\n"


def _grant(net: Network, limits: dict[str, int] | None = None) -> dict[str, Any]:
    grant: dict[str, Any] = {"hosts": [net.granted_host], "secrets": [SECRET_NAME]}
    if limits:
        grant["limits"] = limits
    return grant


@pytest.fixture(scope="module")
def net() -> Iterator[Network]:
    with DemoApi(issues=0) as granted, DemoApi(issues=0) as ungranted:
        yield Network(granted, ungranted)
        # Whatever ran in this module, the ungranted server never heard from a guest.
        assert ungranted.requests == []


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory, net: Network) -> Path:
    """A project holding every hostile pipeline, a good one, and the components:
    ``hostile`` (declares only the granted host) and ``greedy`` (the same code, declaring
    the ungranted host too)."""
    root = tmp_path_factory.mktemp("wasm-hostile")
    connectors = root / "connectors"
    wasm = build_component(GUEST, connectors, name="hostile")
    (connectors / "hostile.toml").write_text(
        _capability_manifest("hostile", [net.granted_host]), encoding="utf-8"
    )
    shutil.copyfile(wasm, connectors / "greedy.wasm")
    (connectors / "greedy.toml").write_text(
        _capability_manifest("greedy", [net.granted_host, net.ungranted_host]), encoding="utf-8"
    )
    hostile = "connectors/hostile.wasm"
    body = [_pipeline("good", hostile, {"mode": "ok"}, _grant(net))]
    body += [_pipeline(c.name, hostile, c.options, _grant(net, c.limits)) for c in _cases(net)]
    body.append(_pipeline("echo", hostile, _echo_options(net), _grant(net)))
    body.append(_pipeline("snoop", hostile, {"mode": "snoop"}, _grant(net)))
    body.append(_pipeline("greedy", "connectors/greedy.wasm", {"mode": "ok"}, _grant(net)))
    write_manifest(root, "\n".join(body))
    # The first good run creates the store (and warms any compiled-component cache), so the
    # fingerprints the cases take compare like with like.
    _good_run(root)
    return root


def _hakiri_run(project: Path, pipeline: str) -> CliResult:
    return run_hakiri("run", pipeline, cwd=project, env={SECRET_NAME: SECRET}, timeout=180)


def _good_run(project: Path) -> None:
    result = _hakiri_run(project, "good").check()
    assert "good: succeeded" in result.stdout, result.stdout


def _runs(project: Path, pipeline: str) -> list[RunRecord]:
    catalog = open_sqlite_catalog(f"sqlite:///{project / '.hakiri' / 'catalog.db'}")
    try:
        return catalog.list_runs(pipeline)
    finally:
        catalog.close()


def _error_line(result: CliResult, code: str) -> str:
    """The run failed with one error line, ``error[<code>]: …``, last on stderr (the
    guest's log lines, if the host shows any, may come before it) and no host traceback."""
    assert result.returncode != 0, result.stdout
    lines = result.stderr.strip().splitlines()
    errors = [line for line in lines if line.startswith("error")]
    assert len(errors) == 1, result.stderr
    assert lines[-1] == errors[0], result.stderr
    assert errors[0].startswith(f"error[{code}]: "), result.stderr
    # (A guest's own traceback may be quoted inside the one line; the host's never shows.)
    assert not any(line.startswith("Traceback") for line in lines), result.stderr
    return errors[0]


def _query(project: Path, sql: str) -> list[list[Any]]:
    result = run_hakiri("query", sql, "--format", "json", cwd=project).check()
    rows: list[list[Any]] = result.json()["rows"]
    return rows


# -- each hostile case through a real `hakiri run` ----------------------------------------


@pytest.mark.parametrize(
    "case_name",
    ["loop", "fuel", "memory", "log_flood", "undeclared_host", "redirect", "secret_other"],
)
def test_hostile_run_fails_with_its_typed_error(
    project: Path, net: Network, case_name: str
) -> None:
    case = next(c for c in _cases(net) if c.name == case_name)
    store = project / ".hakiri"
    before = store_fingerprint(store, catalog_tables=COMMITTED)
    net.granted.clear_requests()

    result = _hakiri_run(project, case.name)

    line = _error_line(result, case.code)
    print(f"{case.name}: {line}")
    if case.code == "capability_denied":
        assert "capability denied" in line
    # The run exists (the harmless page answered) and ended failed with the same error.
    runs = _runs(project, case.name)
    assert [run.status.value for run in runs][:1] == ["failed"]
    assert runs[0].error_code == case.code
    assert runs[0].error_message and runs[0].error_message in line
    if case.name == "loop":  # what a user sees agrees with the catalog
        described = run_hakiri("pipeline", "describe", "loop", "--json", cwd=project).check()
        last = described.json()["runs"][0]
        assert (last["status"], last["error"]["code"]) == ("failed", "wasm_timeout")
    # Nothing committed: no table, no file, no cursor, no schema — only the run's record.
    assert store_fingerprint(store, catalog_tables=COMMITTED) == before
    assert net.ungranted.requests == []
    if case.name == "redirect":
        # The granted host was asked (and answered 302); the hop to the other was refused.
        assert [r.path for r in net.granted.requests] == ["/redirect-to"]
    if case.name == "secret_other":
        # A reference to a secret the connector never declared is not sent anywhere.
        assert net.granted.requests == []
    # The project is not harmed: the next good run succeeds.
    _good_run(project)


def test_component_declaring_an_ungranted_host_fails_to_load(project: Path, net: Network) -> None:
    store = project / ".hakiri"
    before = store_fingerprint(store)  # everything, the runs included
    net.granted.clear_requests()

    result = _hakiri_run(project, "greedy")

    line = _error_line(result, "capability_denied")
    print(f"greedy: {line}")
    assert "'greedy'" in line
    assert net.ungranted_host in line
    assert "grant.hosts" in line
    # Refused before any call: no run, no request anywhere, nothing in the store.
    assert _runs(project, "greedy") == []
    assert store_fingerprint(store) == before
    assert net.granted.requests == []
    assert net.ungranted.requests == []
    _good_run(project)


def test_guest_sees_no_environment_and_no_files(project: Path) -> None:
    result = _hakiri_run(project, "snoop").check()
    assert SECRET not in result.stdout + result.stderr
    (detail,) = _query(project, "select detail from snoop where step = 'attack'")[0]
    found = json.loads(detail)
    # The process running the guest has API_TOKEN in its environment; WASI passes none.
    assert found["environ"] == {}
    assert all(value.startswith("error: ") for value in found["files"].values()), found
    assert str(found["cwd"]).startswith("error: ")
    assert str(found["root"]).startswith("error: ")
    assert SECRET not in detail


def test_guest_never_sees_a_secret_value(project: Path, net: Network) -> None:
    net.granted.clear_requests()

    result = _hakiri_run(project, "echo").check()

    # The host substituted the value into the request it sent …
    (request,) = net.granted.requests_to("/anything/echo")
    assert request.headers["authorization"] == f"Bearer {SECRET}"
    assert request.headers["x-api-key"] == SECRET
    assert request.param("token") == SECRET
    # … and the guest, which returned the echo as rows, saw only the reference.
    (detail,) = _query(project, "select detail from echo where step = 'attack'")[0]
    echoed = json.loads(detail)
    assert echoed["headers"]["Authorization"] == f"Bearer secret://{SECRET_NAME}"
    assert echoed["headers"]["X-Api-Key"] == f"secret://{SECRET_NAME}"
    assert SECRET not in detail
    hits = _query(project, f"select count(*) from echo where detail like '%{SECRET}%'")
    assert hits == [[0]]
    # The value is nowhere: not in what the run printed, not in any file of the project
    # (Parquet files raw and decoded, the catalog with its runs, errors and events).
    assert SECRET not in result.stdout + result.stderr
    for path in project.rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path
    for parquet in (project / ".hakiri").rglob("*.parquet"):
        assert SECRET not in str(pq.read_table(parquet).to_pylist()), parquet


# -- every case in one process, then a good call -----------------------------------------


def _source(connectors: Path, name: str, options: dict[str, Any], project: Path) -> Source:
    factory = load_connector(f"wasm:{connectors / name}.wasm", kind="source")
    host = TestHost(project, secrets={SECRET_NAME: SECRET})
    return cast(Source, factory.create(options, host))


def _read_all(source: Source) -> list[tuple[Page, PageData]]:
    pages = list(source.plan(None).pages)
    out = []
    while pages:
        page = pages.pop(0)
        data = source.read(page)
        out.append((page, data))
        pages.extend(data.next_pages)
    return out


def _good_call(connectors: Path, project: Path, net: Network) -> None:
    source = _source(connectors, "hostile", {"mode": "ok", "grant": _grant(net)}, project)
    try:
        ((_, data),) = _read_all(source)
    finally:
        source.close()
    assert data.table.column("detail").to_pylist() == ["row 1", "row 2", "row 3"]


def _host_threads() -> int:
    """Threads of this process that are not the local test servers' request handlers."""
    return sum(
        1
        for t in threading.enumerate()
        if "process_request_thread" not in t.name and not t.name.startswith("demo-api")
    )


def test_host_process_stays_healthy_after_every_hostile_case(
    project: Path, net: Network, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="hakiri.wasm")
    connectors = project / "connectors"
    _good_call(connectors, project, net)
    threads = _host_threads()
    seen: dict[str, str] = {}

    for case in _cases(net):
        options = case.options | {"grant": _grant(net, case.limits)}
        source = _source(connectors, "hostile", options, project)
        try:
            with pytest.raises(HakiriError) as caught:
                _read_all(source)
        finally:
            source.close()
        assert caught.value.code == case.code, f"{case.name}: {caught.value}"
        seen[case.name] = f"error[{caught.value.code}]: {caught.value.one_line()}"

    with pytest.raises(HakiriError) as denied:
        _source(connectors, "greedy", {"mode": "ok", "grant": _grant(net)}, project)
    assert denied.value.code == "capability_denied"
    assert net.ungranted_host in str(denied.value)
    seen["greedy (load)"] = f"error[{denied.value.code}]: {denied.value.one_line()}"

    echo = _source(connectors, "hostile", _echo_options(net) | {"grant": _grant(net)}, project)
    try:
        attack = _read_all(echo)[-1][1]
    finally:
        echo.close()
    (detail,) = attack.table.column("detail").to_pylist()
    assert isinstance(detail, str)
    assert f"secret://{SECRET_NAME}" in detail
    assert SECRET not in detail
    # The guest logged the echo too: the run's log holds the reference, never the value.
    echoed = [r.getMessage() for r in caplog.records if "echoed: " in r.getMessage()]
    assert echoed and all(f"secret://{SECRET_NAME}" in line for line in echoed)
    assert SECRET not in caplog.text

    # Still healthy: a well-behaved call works, no thread was left behind, and the
    # ungranted server never heard from anyone.
    _good_call(connectors, project, net)
    # Only the host's threads count: the test servers' request handlers (a slow response
    # the host stopped waiting for) come and go on their own.
    assert _host_threads() <= threads, [t.name for t in threading.enumerate()]
    assert net.ungranted.requests == []
    for name, line in seen.items():
        print(f"in-process {name}: {line}")
