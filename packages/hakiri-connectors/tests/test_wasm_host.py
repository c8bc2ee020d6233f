"""The WebAssembly connector host: load checks, the sandbox's HTTP, limits, errors, the cache.

The guest (``wasm_guests/probe``) is a Python component built once with componentize-py
(cached by content); its compiled code is cached too, so after the first session a test
costs an instantiation (milliseconds), not a compile. Everything runs for real: the guest
fetches from the demo API on 127.0.0.1 through the host, and the end-to-end tests run the
``hakiri`` command.
"""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from hakiri.connectors.wasm import (
    DEFAULT_LIMITS,
    ConnectorManifest,
    Grant,
    HostPattern,
    WasmFuelExhausted,
    WasmInvalid,
    WasmLogLimit,
    WasmMemoryLimit,
    WasmSource,
    WasmTimeout,
    WasmTrap,
    connector_for,
    load_manifest,
)
from hakiri.connectors.wasm.engine import compile_stats, forget_loaded, load_component
from hakiri.connectors.wasm.manifest import effective_limits
from hakiri.core.errors import (
    CapabilityDenied,
    ConfigError,
    MissingDependency,
    SecretError,
    SourceError,
)
from hakiri.core.records import Page
from hakiri.testing.cli import run_hakiri
from hakiri.testing.demo_api import DemoApi
from hakiri.testing.host import TestHost
from hakiri.testing.project import store_fingerprint, write_manifest
from hakiri.testing.wasm import build_component, component_cache_dir

GUESTS = Path(__file__).parent / "wasm_guests"
TOKEN = "tok-3f9a1c-very-secret"


@pytest.fixture(scope="module")
def compiled_cache() -> Iterator[Path]:
    """A compile cache that outlives the session (a cold compile takes ~20 s)."""
    path = component_cache_dir().parent / "test-cwasm"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HAKIRI_WASM_CACHE", str(path))
        yield path


@pytest.fixture(scope="module")
def probe_wasm(tmp_path_factory: pytest.TempPathFactory, compiled_cache: Path) -> Path:
    wasm = build_component(GUESTS / "probe", tmp_path_factory.mktemp("probe"))
    load_component(wasm)  # compiled (or read from the cache) once for the module
    return wasm


def _install(
    project: Path,
    wasm: Path,
    *,
    hosts: list[str],
    secrets: list[str] = (),  # type: ignore[assignment]
    limits: str = "",
) -> str:
    """Copy the component into ``project/connectors`` with a manifest declaring ``hosts``
    and ``secrets``; return its reference for ``wasm:``."""
    target = project / "connectors"
    target.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(wasm, target / "probe.wasm")
    (target / "probe.toml").write_text(
        '[connector]\nname = "probe"\nversion = "0.1.0"\n\n'
        f"[capabilities]\nhosts = {json.dumps(hosts)}\nsecrets = {json.dumps(list(secrets))}\n"
        + (f"\n[limits]\n{limits}\n" if limits else ""),
        encoding="utf-8",
    )
    return "connectors/probe.wasm"


def _hostport(api: DemoApi) -> str:
    return api.url.removeprefix("http://")


def _source(
    tmp_path: Path,
    wasm: Path,
    api: DemoApi,
    options: dict[str, Any],
    *,
    secrets: list[str] = (),  # type: ignore[assignment]
    grant_limits: dict[str, Any] | None = None,
) -> WasmSource:
    reference = _install(tmp_path, wasm, hosts=[_hostport(api)], secrets=secrets)
    grant: dict[str, Any] = {"hosts": [_hostport(api)], "secrets": list(secrets)}
    if grant_limits:
        grant["limits"] = grant_limits
    host = TestHost(tmp_path, secrets={"API_TOKEN": TOKEN})
    source = connector_for(reference).create({**options, "grant": grant}, host)
    assert isinstance(source, WasmSource)
    return source


def _read_all(source: WasmSource, cursor: Any = None) -> tuple[list[dict[str, Any]], Any]:
    plan = source.plan(cursor)
    pages = list(plan.pages)
    rows: list[dict[str, Any]] = []
    reached = cursor
    while pages:
        data = source.read(pages.pop(0))
        rows.extend(data.table.to_pylist())
        pages.extend(data.next_pages)
        reached = plan.cursor_kind.advance(reached, data.cursor)
    return rows, reached


# -- a real run --------------------------------------------------------------------------------


def _wasm_project(root: Path, wasm: Path, api: DemoApi) -> Path:
    reference = _install(root, wasm, hosts=[_hostport(api)])
    write_manifest(
        root,
        f"""
[pipelines.issues.source]
connector = "wasm:{reference}"
url = "{api.url}/issues"
per_page = 10
grant = {{ hosts = ["{_hostport(api)}"] }}

[pipelines.issues.destination]
write = "merge"
primary_key = ["id"]
""",
    )
    return root


def test_hakiri_run_commits_the_rows_a_component_reads(
    tmp_path: Path,
    probe_wasm: Path,
    compiled_cache: Path,
    demo_api: DemoApi,
) -> None:
    project = _wasm_project(tmp_path, probe_wasm, demo_api)
    env = {"HAKIRI_WASM_CACHE": str(compiled_cache)}
    run = run_hakiri("run", "issues", cwd=project, env=env).check()
    issues = demo_api.issue_count
    assert f"{issues} rows" in run.stdout, run.stdout
    query = "select count(*), count(distinct id), max(updated_at) from issues"
    result = run_hakiri("query", query, "--format", "json", cwd=project, env=env).check()
    [[count, distinct, newest]] = result.json()["rows"]
    assert count == distinct == issues
    # Every page went through the host's fetch to the demo API, page numbers 1, 2, …
    pages = [r.param("page") for r in demo_api.requests_to("/issues")]
    assert pages[: issues // 10 + 1] == [str(n) for n in range(1, issues // 10 + 2)]

    # The committed cursor goes back to the guest as JSON: the next run asks from it.
    demo_api.clear_requests()
    run_hakiri("run", "issues", cwd=project, env=env).check()
    assert {r.param("since") for r in demo_api.requests_to("/issues")} == {newest}

    # A guest that traps fails the run with its code, on one line, and the committed
    # state (tables, files, schemas, cursor) stays as it was.
    committed = ["tables", "files", "schema_versions", "cursors"]
    before = store_fingerprint(project / ".hakiri", catalog_tables=committed)
    manifest = project / "hakiri.toml"
    manifest.write_text(manifest.read_text().replace("per_page = 10", 'mode = "crash"'))
    failed = run_hakiri("run", "issues", cwd=project, env=env)
    assert failed.returncode != 0
    [line] = failed.stderr.strip().splitlines()
    assert line.startswith("error[wasm_trap]: connector 'probe' (read) trapped"), line
    assert "RuntimeError: boom from the guest" in line
    assert store_fingerprint(project / ".hakiri", catalog_tables=committed) == before


def test_capability_denied_at_load_names_the_missing_host(
    tmp_path: Path,
    probe_wasm: Path,
    compiled_cache: Path,
    demo_api: DemoApi,
) -> None:
    project = _wasm_project(tmp_path, probe_wasm, demo_api)
    manifest = project / "hakiri.toml"
    manifest.write_text(manifest.read_text().replace(_hostport(demo_api) + '"] }', 'x.test"] }'))
    denied = run_hakiri("run", "issues", cwd=project, env={"HAKIRI_WASM_CACHE": "/nonexistent"})
    assert denied.returncode == 2
    [line] = denied.stderr.strip().splitlines()
    assert line == (
        f"error[capability_denied]: capability denied: connector 'probe' declares network "
        f"access to '{_hostport(demo_api)}', which the pipeline does not grant — add the host "
        "to grant.hosts in the pipeline's [source] table if you trust the connector"
    )
    assert not demo_api.requests_to("/issues")
    assert not list(project.rglob("*.parquet"))


# -- load-time checks ------------------------------------------------------------------------


def test_a_declared_secret_must_be_granted(tmp_path: Path, probe_wasm: Path) -> None:
    reference = _install(tmp_path, probe_wasm, hosts=[], secrets=["API_TOKEN"])
    host = TestHost(tmp_path, secrets={"API_TOKEN": TOKEN})
    with pytest.raises(CapabilityDenied) as denied:
        connector_for(reference).create({"grant": {"secrets": []}}, host)
    assert "declares the secret 'API_TOKEN', which the pipeline does not grant" in str(denied.value)
    assert "grant.secrets" in denied.value.one_line()


def test_options_may_only_reference_declared_secrets(tmp_path: Path, probe_wasm: Path) -> None:
    reference = _install(tmp_path, probe_wasm, hosts=[])
    host = TestHost(tmp_path, secrets={"OTHER": "x"})
    with pytest.raises(CapabilityDenied, match=r"secret://OTHER, which connector 'probe'"):
        connector_for(reference).create({"token": "secret://OTHER"}, host)


def test_a_granted_secret_must_be_set(tmp_path: Path, probe_wasm: Path) -> None:
    reference = _install(tmp_path, probe_wasm, hosts=[], secrets=["API_TOKEN"])
    with pytest.raises(SecretError, match="'API_TOKEN' is not set"):
        connector_for(reference).create({"grant": {"secrets": ["API_TOKEN"]}}, TestHost(tmp_path))


def test_manifest_and_grant_mistakes_are_one_line_config_errors(
    tmp_path: Path, probe_wasm: Path
) -> None:
    reference = _install(tmp_path, probe_wasm, hosts=["127.0.0.1:1"])
    host = TestHost(tmp_path)
    factory = connector_for(reference)
    with pytest.raises(ConfigError, match=r"probe.wasm: grant: hosts: 'http://x/' is a URL"):
        factory.create({"grant": {"hosts": ["http://x/"]}}, host)
    with pytest.raises(ConfigError, match=r"grant: unknown key 'fuel'"):
        factory.create({"grant": {"fuel": 1}}, host)
    with pytest.raises(ConfigError, match=r"grant: limits.memory_mb: Input should be less"):
        factory.create({"grant": {"limits": {"memory_mb": 1 << 20}}}, host)
    manifest = tmp_path / "connectors" / "probe.toml"
    manifest.write_text('[connector]\nname = "probe"\n[capabilities]\nnetwork = true\n')
    with pytest.raises(ConfigError, match=r"probe.toml: unknown key 'capabilities.network'"):
        factory.create({}, host)
    manifest.unlink()
    with pytest.raises(
        ConfigError, match=r"no capability manifest for .*probe.wasm: .*probe.toml does not exist"
    ):
        factory.create({}, host)
    with pytest.raises(ConfigError, match=r"missing.wasm does not exist"):
        connector_for("connectors/missing.wasm").create({}, host)


def test_not_a_component_is_wasm_invalid(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    wasmtime = pytest.importorskip("wasmtime")
    monkeypatch.setenv("HAKIRI_WASM_CACHE", str(tmp_path / "cache"))
    host = TestHost(tmp_path)
    cases = {
        "garbage": b"this is not WebAssembly",
        "module": bytes(wasmtime.wat2wasm("(module)")),
        "empty": bytes(wasmtime.wat2wasm("(component)")),
        "partial": bytes(
            wasmtime.wat2wasm(
                '(component (core module $m (func (export "f"))) (core instance $i '
                '(instantiate $m)) (func $f (canon lift (core func $i "f"))) (instance $s '
                '(export "spec" (func $f))) (export "hakiri:connector/source@0.1.0" '
                "(instance $s)))"
            )
        ),
    }
    messages = {}
    for name, data in cases.items():
        (tmp_path / f"{name}.wasm").write_bytes(data)
        (tmp_path / f"{name}.toml").write_text(f'[connector]\nname = "{name}"\n')
        with pytest.raises(WasmInvalid) as invalid:
            connector_for(f"{name}.wasm").create({}, host)
        assert invalid.value.code == "wasm_invalid"
        messages[name] = invalid.value.one_line()
    assert "garbage.wasm is not a valid WebAssembly component" in messages["garbage"]
    assert "module.wasm is not a valid WebAssembly component" in messages["module"]
    assert "does not export hakiri:connector/source@0.1.0" in messages["empty"]
    assert "exports hakiri:connector/source@0.1.0 without 'discover'" in messages["partial"]


def test_missing_wasmtime_is_a_missing_dependency(
    tmp_path: Path, probe_wasm: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reference = _install(tmp_path, probe_wasm, hosts=[])
    monkeypatch.setitem(sys.modules, "wasmtime", None)  # import wasmtime → ImportError
    with pytest.raises(MissingDependency) as missing:
        connector_for(reference).create({}, TestHost(tmp_path))
    assert "need wasmtime, which is not installed" in missing.value.one_line()
    assert "pip install 'hakiri-connectors[wasm]'" in missing.value.one_line()


def test_the_package_imports_without_wasmtime() -> None:
    code = (
        "import sys, hakiri.connectors.wasm as w\n"
        "w.connector_for('x.wasm')\n"
        "assert 'wasmtime' not in sys.modules, 'wasmtime imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# -- the compile cache -------------------------------------------------------------------------


def test_the_compile_cache_is_written_once_and_reused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wasmtime = pytest.importorskip("wasmtime")
    cache = tmp_path / "cache"
    monkeypatch.setenv("HAKIRI_WASM_CACHE", str(cache))
    wasm = tmp_path / "tiny.wasm"
    # A component of its own (its digest is new to this process): compiled in milliseconds.
    wasm.write_bytes(bytes(wasmtime.wat2wasm(f'(component (import "t{id(tmp_path)}" (func)))')))
    stats = compile_stats()
    compiled = stats.compiled

    load_component(wasm)
    assert stats.compiled == compiled + 1
    [entry] = cache.glob("*.cwasm")
    assert entry.name.endswith(f"-{wasmtime_version()}.cwasm")
    written = entry.stat().st_mtime_ns

    forget_loaded()  # as a new process would: only the disk cache is left
    deserialized = stats.deserialized
    load_component(wasm)
    assert (stats.compiled, stats.deserialized) == (compiled + 1, deserialized + 1)
    assert entry.stat().st_mtime_ns == written

    # A damaged entry is compiled again and replaced, not trusted.
    entry.write_bytes(b"\0" * 64)
    forget_loaded()
    corrupt = stats.corrupt
    load_component(wasm)
    assert (stats.compiled, stats.corrupt) == (compiled + 2, corrupt + 1)
    forget_loaded()
    load_component(wasm)
    assert stats.deserialized == deserialized + 2


def wasmtime_version() -> str:
    from importlib.metadata import version

    return version("wasmtime")


# -- the sandbox's HTTP ----------------------------------------------------------------------


def test_secrets_are_substituted_on_the_wire_and_scrubbed_from_responses(
    tmp_path: Path,
    probe_wasm: Path,
    demo_api: DemoApi,
) -> None:
    options = {"mode": "echo", "url": f"{demo_api.url}/anything", "token": "secret://API_TOKEN"}
    source = _source(tmp_path, probe_wasm, demo_api, options, secrets=["API_TOKEN"])
    [row] = source.read(source.plan(None).pages[0]).table.to_pylist()
    [request] = demo_api.requests_to("/anything")
    assert request.headers["authorization"] == f"Bearer {TOKEN}"  # the server saw the value
    echoed = json.loads(row["body"])  # the guest saw the reference
    assert echoed["headers"]["Authorization"] == "Bearer secret://API_TOKEN"
    assert TOKEN not in row["body"]


def test_fetches_outside_the_declared_hosts_fail_the_call(
    tmp_path: Path,
    probe_wasm: Path,
    demo_api: DemoApi,
) -> None:
    other = "127.0.0.1:9"  # declared by nobody
    cases = {
        f"http://{other}/": "requested 127.0.0.1:9, which it does not declare",
        f"{demo_api.url}/redirect-to?url=http://{other}/x": (
            f"was redirected from {demo_api.url}/redirect-to to 127.0.0.1:9"
        ),
    }
    for url, said in cases.items():
        source = _source(tmp_path, probe_wasm, demo_api, {"mode": "fetch", "url": url})
        with pytest.raises(CapabilityDenied) as denied:
            source.read(Page("p", {}))
        assert said in denied.value.one_line()
    # A redirect within the declared hosts is followed, and the guest sees where it landed.
    target = f"{demo_api.url}/anything/landed"
    url = f"{demo_api.url}/redirect-to?url={target}"
    source = _source(tmp_path, probe_wasm, demo_api, {"mode": "fetch", "url": url})
    assert source.read(Page("p", {})).table.to_pylist() == [{"status": 200, "url": target}]


def test_an_undeclared_secret_reference_fails_the_call(
    tmp_path: Path,
    probe_wasm: Path,
    demo_api: DemoApi,
) -> None:
    options = {"mode": "fetch", "url": f"{demo_api.url}/anything", "secret_name": "HOME"}
    source = _source(tmp_path, probe_wasm, demo_api, options, secrets=["API_TOKEN"])
    with pytest.raises(CapabilityDenied, match=r"referenced secret://HOME, which it does not"):
        source.read(Page("p", {}))
    assert not demo_api.requests_to("/anything")


def test_transport_errors_reach_the_guest_as_err(tmp_path: Path, probe_wasm: Path) -> None:
    from hakiri.testing.net import free_port

    closed = f"127.0.0.1:{free_port()}"
    reference = _install(tmp_path, probe_wasm, hosts=[closed])
    source = connector_for(reference).create(
        {"mode": "fetch", "url": f"http://{closed}/", "grant": {"hosts": [closed]}},
        TestHost(tmp_path),
    )
    [row] = source.read(Page("p", {})).table.to_pylist()
    assert row == {"error": f"GET http://{closed}/: connection refused"}


# -- limits and errors -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "limits", "error", "said"),
    [
        ("spin", {"fuel": 500_000_000}, WasmFuelExhausted, "used up its fuel (500,000,000"),
        (
            "spin",
            {"fuel": 10**12, "timeout_seconds": 0.3},
            WasmTimeout,
            "ran past its 0.3 s deadline",
        ),
        ("bomb", {"memory_mb": 64}, WasmMemoryLimit, "needed more than its 64 MiB of memory"),
        ("flood", {}, WasmLogLimit, "logged more than 16,384 bytes per second"),
        ("crash", {}, WasmTrap, "trapped: wasm trap: wasm `unreachable`"),
    ],
)
def test_each_breach_is_its_typed_error_and_the_host_stays_healthy(
    tmp_path: Path,
    probe_wasm: Path,
    demo_api: DemoApi,
    mode: str,
    limits: dict[str, Any],
    error: type[Exception],
    said: str,
) -> None:
    options = {"mode": mode, "url": f"{demo_api.url}/issues"}
    source = _source(tmp_path, probe_wasm, demo_api, options, grant_limits=limits)
    with pytest.raises(error) as failed:
        source.read(Page("page-1", {"page": 1}))
    assert said in str(failed.value)
    assert "connector 'probe'" in str(failed.value)
    # The next call of the same source is a fresh sandbox: it works.
    healthy = _source(tmp_path, probe_wasm, demo_api, {"url": f"{demo_api.url}/issues"})
    assert healthy.read(Page("page-1", {"page": 1})).table.num_rows == 10


def test_a_slow_response_runs_into_the_call_deadline(
    tmp_path: Path,
    probe_wasm: Path,
    demo_api: DemoApi,
) -> None:
    options = {"mode": "fetch", "url": f"{demo_api.url}/anything"}
    limits = {"timeout_seconds": 0.3}
    source = _source(tmp_path, probe_wasm, demo_api, options, grant_limits=limits)
    demo_api.set_delay(5)  # the host waits in urllib3, where epochs cannot interrupt it
    with pytest.raises(WasmTimeout, match=r"ran past its 0.3 s deadline"):
        source.read(Page("p", {}))


def test_guest_errors_are_config_and_source_errors(
    tmp_path: Path,
    probe_wasm: Path,
    demo_api: DemoApi,
) -> None:
    # The guest refuses its options when the source is created, before any run reads.
    label = "wasm:connectors/probe.wasm (connector 'probe')"
    with pytest.raises(ConfigError, match=rf"^{re.escape(label)}: option 'url' is required$"):
        _source(tmp_path, probe_wasm, demo_api, {"mode": "bad_config"})
    # That check runs with the network closed: a discover that fetches is left to the run.
    options = {"mode": "discover_fetch", "url": f"{demo_api.url}/anything"}
    source = _source(tmp_path, probe_wasm, demo_api, options)
    assert not demo_api.requests_to("/anything")
    assert [stream.name for stream in source.discover()] == ["status_200"]
    source = _source(tmp_path, probe_wasm, demo_api, {"mode": "bad_source"})
    with pytest.raises(SourceError, match=r"\(read\): the API answered nonsense"):
        source.read(Page("p", {}))


def test_the_guest_output_tail_is_in_a_trap_message(
    tmp_path: Path,
    probe_wasm: Path,
    demo_api: DemoApi,
) -> None:
    source = _source(tmp_path, probe_wasm, demo_api, {"mode": "print_crash"})
    with pytest.raises(WasmTrap) as trapped:
        source.read(Page("p", {}))
    message = trapped.value.one_line()
    assert "RuntimeError: boom from the guest" in message
    assert "\n" not in message and len(message) < 1000


# -- the port ----------------------------------------------------------------------------------


def test_discover_plan_and_read_follow_the_port(
    tmp_path: Path,
    probe_wasm: Path,
    demo_api: DemoApi,
) -> None:
    source = _source(tmp_path, probe_wasm, demo_api, {"url": f"{demo_api.url}/issues"})
    [stream] = source.discover()
    assert (stream.name, stream.primary_key, stream.cursor_field) == (
        "issues",
        ("id",),
        "updated_at",
    )
    assert stream.options == {"mode": "issues"}
    assert source.spec()["type"] == "object"
    plan = source.plan(None)
    assert plan.cursor_kind.value == "monotonic"
    assert [json.loads(json.dumps(p.to_dict())) for p in plan.pages] == [
        {"key": "page-1", "params": {"page": 1, "since": None}}
    ]
    rows, cursor = _read_all(source)
    assert sorted(row["id"] for row in rows) == list(range(1, demo_api.issue_count + 1))
    assert cursor == max(row["updated_at"] for row in rows)
    # Strings stay strings (the http connector's decoder): the cursor is the API's own text.
    data = source.read(Page("page-1", {"page": 1}))
    assert data.table.schema.field("updated_at").type == pa.string()
    assert data.bytes_read > 0


def test_arrow_ipc_rows_are_decoded(
    tmp_path: Path,
    probe_wasm: Path,
    demo_api: DemoApi,
) -> None:
    table = pa.table({"id": [1, 2], "name": ["a", "b"], "score": [0.5, None]})
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    ipc = base64.b64encode(sink.getvalue().to_pybytes()).decode()
    source = _source(tmp_path, probe_wasm, demo_api, {"mode": "arrow", "ipc_base64": ipc})
    assert source.read(Page("p", {})).table.equals(table)


def test_reads_on_several_threads_each_get_their_own_sandbox(
    tmp_path: Path,
    probe_wasm: Path,
    demo_api: DemoApi,
) -> None:
    source = _source(tmp_path, probe_wasm, demo_api, {"url": f"{demo_api.url}/issues"})
    results: dict[int, list[int]] = {}
    errors: list[BaseException] = []

    def read(n: int) -> None:
        try:
            table = source.read(Page(f"page-{n}", {"page": n})).table
            results[n] = [row["id"] for row in table.to_pylist()]
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=read, args=(n,)) for n in (1, 2, 3, 4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert results == {n: list(range(10 * n - 9, 10 * n + 1)) for n in (1, 2, 3, 4)}


# -- manifests and grants ------------------------------------------------------------------


def test_host_patterns_match_and_cover() -> None:
    exact = HostPattern.parse("API.example.com")
    assert exact.matches("api.example.com", 443) and exact.matches("api.example.com", 80)
    assert not exact.matches("api.example.com", 8080)
    assert not exact.matches("x.api.example.com", 443)
    wild = HostPattern.parse("*.example.com:8443")
    assert wild.matches("a.b.example.com", 8443) and not wild.matches("example.com", 8443)
    assert HostPattern.parse("*.example.com").covers(HostPattern.parse("api.example.com:443"))
    assert not HostPattern.parse("*.example.com").covers(HostPattern.parse("api.example.com:22"))
    assert not exact.covers(HostPattern.parse("*.example.com"))
    assert HostPattern.parse("[::1]:8080").matches("::1", 8080)
    for bad in ("http://x", "x:0", "x:port", "*", "a b"):
        with pytest.raises(ValueError):
            HostPattern.parse(bad)


def test_a_grant_lowers_limits_and_never_raises_them(tmp_path: Path) -> None:
    manifest = ConnectorManifest.model_validate(
        {"connector": {"name": "c"}, "limits": {"memory_mb": 128, "fuel": 1000}}
    )
    limits = effective_limits(manifest, Grant.model_validate({"limits": {"memory_mb": 512}}))
    assert (limits.memory_mb, limits.fuel) == (128, 1000)
    assert limits.timeout_seconds == DEFAULT_LIMITS.timeout_seconds
    lowered = effective_limits(manifest, Grant.model_validate({"limits": {"fuel": 10}}))
    assert lowered.fuel == 10
    (tmp_path / "c.toml").write_text('[connector]\nname = "c"\n[limits]\nfuel = 1e15\n')
    with pytest.raises(ConfigError, match=r"limits.fuel"):
        load_manifest(tmp_path / "c.wasm")
