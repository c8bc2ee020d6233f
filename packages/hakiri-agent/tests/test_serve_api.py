"""The daemon's HTTP API, its run event stream and its busy rules, against a real daemon.

One ``hakiri serve`` subprocess serves a project for the whole module. Its ``issues``
pipeline reads a demo API that answers at once; its ``slow`` pipeline reads another demo API
whose third page the tests hold back (``hold_page``), so a run stays in flight exactly as
long as a test needs it to — no sleeps, no timing assumptions.
"""

from __future__ import annotations

import http.client
import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from hakiri.testing.cli import run_hakiri, spawn_hakiri
from hakiri.testing.daemon import DaemonProcess, HttpAnswer
from hakiri.testing.demo_api import DemoApi
from hakiri.testing.project import write_manifest

pytestmark = pytest.mark.timeout(120)

_WAIT = 30.0
"""Seconds any awaited state may take before a test fails (a bound for a hang, not a timing)."""


# -- fixtures ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def api() -> Iterator[DemoApi]:
    """The fast source (100 issues, pages of 20)."""
    with DemoApi(issues=100) as server:
        yield server


@pytest.fixture(scope="module")
def slow_api() -> Iterator[DemoApi]:
    """The held source (100 issues, pages of 10): only tests that hold a page use it."""
    with DemoApi(issues=100) as server:
        yield server


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory, api: DemoApi, slow_api: DemoApi) -> Path:
    root = tmp_path_factory.mktemp("serve-api") / "project"
    write_manifest(
        root,
        f"""
[pipelines.issues.source]
connector = "http"
url = "{api.url}/issues"
params = {{ style = "link", per_page = 20 }}
pagination = {{ kind = "link_header" }}

[pipelines.slow]
chunk_rows = 20

[pipelines.slow.source]
connector = "http"
url = "{slow_api.url}/issues"
params = {{ style = "link", per_page = 10 }}
pagination = {{ kind = "link_header" }}
""",
    )
    return root


@pytest.fixture(scope="module")
def daemon(project: Path) -> Iterator[DaemonProcess]:
    server = DaemonProcess(project).start()
    try:
        yield server
    finally:
        status = server.stop(timeout=30)
    assert status == 0, server.log()


@pytest.fixture(autouse=True)
def _idle_after(request: pytest.FixtureRequest) -> Iterator[None]:
    """Tests share the daemon: each leaves it with no run in flight, even when it failed."""
    yield
    if "daemon" not in request.fixturenames:
        return
    server: DaemonProcess = request.getfixturevalue("daemon")
    _eventually(lambda: server.get("/healthz").json()["running"] == [], "the daemon to idle")


@pytest.fixture(scope="module")
def issues_run(daemon: DaemonProcess) -> dict[str, Any]:
    """The ``issues`` pipeline run once through the API; its finished run record."""
    started = daemon.post("/v1/pipelines/issues/runs")
    assert started.status == 202, started
    return daemon.wait_run(started.json()["run_id"], timeout=_WAIT)


# -- helpers ----------------------------------------------------------------------------------


def _eventually(check: Callable[[], bool], what: str, timeout: float = _WAIT) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


@contextmanager
def _holding(api: DemoApi, page: int = 3) -> Iterator[None]:
    """Hold back the ``page``-th request to ``api`` from now on until the block ends."""
    api.hold_page(page)
    try:
        yield
    finally:
        api.release()


def _error(answer: HttpAnswer, status: int, code: str) -> dict[str, Any]:
    """The error of an error answer, checked for its status and JSON shape."""
    assert answer.status == status, answer
    assert answer.headers.get("content-type", "").startswith("application/json"), answer.headers
    body = answer.json()
    assert set(body) == {"error"}, body
    error: dict[str, Any] = body["error"]
    assert error["code"] == code, body
    assert {"code", "message"} <= set(error) <= {"code", "message", "hint"}, body
    assert error["message"] and "\n" not in error["message"], body
    return error


def _post_raw(daemon: DaemonProcess, path: str, data: bytes) -> HttpAnswer:
    """A POST with exactly ``data`` as its JSON body (``DaemonProcess.post`` encodes one)."""
    request = urllib.request.Request(
        daemon.url + path, data=data, method="POST", headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=_WAIT) as resp:
            return HttpAnswer(resp.status, resp.headers, resp.read())
    except urllib.error.HTTPError as err:
        return HttpAnswer(err.code, err.headers, err.read())


@dataclass(frozen=True, slots=True)
class Event:
    id: int | None
    kind: str
    data: Any


def _events(daemon: DaemonProcess, run_id: str, *, last_event_id: int | None = None) -> Any:
    """The server-sent events of a run, read as they come; ends when the server closes the
    stream. Every read waits at most ``_WAIT`` seconds."""
    conn = http.client.HTTPConnection("127.0.0.1", daemon.port, timeout=_WAIT)
    headers = {"Accept": "text/event-stream"}
    if last_event_id is not None:
        headers["Last-Event-ID"] = str(last_event_id)
    conn.request("GET", f"/v1/runs/{run_id}/events", headers=headers)
    resp = conn.getresponse()
    assert resp.status == 200, resp.read()
    assert resp.getheader("Content-Type", "").startswith("text/event-stream")
    return closing(_parse_events(conn, resp))


def _parse_events(conn: http.client.HTTPConnection, resp: http.client.HTTPResponse) -> Any:
    try:
        fields: dict[str, list[str]] = {}
        while line := resp.readline():
            text = line.decode("utf-8").rstrip("\r\n")
            if text.startswith(":"):  # a keepalive comment
                continue
            if text:
                name, _, value = text.partition(":")
                fields.setdefault(name, []).append(value.removeprefix(" "))
                continue
            if fields:
                event_id = fields.get("id")
                yield Event(
                    int(event_id[-1]) if event_id else None,
                    fields.get("event", ["message"])[-1],
                    json.loads("\n".join(fields["data"])),
                )
                fields = {}
    finally:
        conn.close()


def _run_until(stream: Any, kind: str) -> list[Event]:
    """Events of ``stream`` up to and including the first of ``kind``."""
    seen: list[Event] = []
    for event in stream:
        seen.append(event)
        if event.kind == kind:
            return seen
    raise AssertionError(f"the stream closed before a {kind!r} event: {seen}")


def _rest(stream: Any) -> list[Event]:
    """Every remaining event, to the end of the stream (the server closes it)."""
    return list(stream)


# -- API basics -------------------------------------------------------------------------------


def test_healthz_reports_the_project_and_its_schedule(daemon: DaemonProcess, project: Path) -> None:
    health = daemon.get("/healthz")
    assert health.status == 200
    body = health.json()
    assert body["status"] == "ok" and body["project"] == str(project.resolve())
    assert body["scheduler"] is True and body["running"] == []
    assert body["pipelines"] == {"issues": None, "slow": None}  # no schedules
    assert body["reloads"] == 0 and body["reload_error"] is None


def test_openapi_is_3_1_and_documents_every_route_served(
    daemon: DaemonProcess, project: Path
) -> None:
    validator = pytest.importorskip("openapi_spec_validator")
    answer = daemon.get("/openapi.json")
    assert answer.status == 200
    document = answer.json()
    assert document["openapi"].startswith("3.1.")
    validator.validate(document, cls=validator.OpenAPIV31SpecValidator)

    documented = {
        (path, method.upper()) for path, ops in document["paths"].items() for method in ops
    }
    assert _served_routes(project) == documented
    operation_ids = [op["operationId"] for ops in document["paths"].values() for op in ops.values()]
    assert len(operation_ids) == len(set(operation_ids))

    # Every documented operation is routed: whatever it answers to a name that does not
    # exist, it is not the router's own 404/405.
    for path, method in sorted(documented):
        concrete = path.replace("{name}", "nope").replace("{run_id}", "nope")
        body = {"sql": "select 1"} if method == "POST" and path == "/v1/query" else None
        answer = daemon.request(method, concrete, body, timeout=_WAIT)
        assert answer.status != 405, (method, path, answer)
        if answer.status == 404:
            assert answer.json()["error"]["code"] != "not_found", (method, path, answer)


def _served_routes(project: Path) -> set[tuple[str, str]]:
    """The (path, method) pairs the daemon's app routes, except the document itself (MCP at
    /mcp, which the document says it does not describe, is left out of this app)."""
    from starlette.routing import Route

    from hakiri.agent.daemon.app import build_app
    from hakiri.agent.daemon.state import Daemon, ServeConfig

    app = build_app(Daemon(ServeConfig(root=project.resolve(), mcp=False)))
    routes = app.app.routes  # type: ignore[attr-defined]  # the Guard wraps the Starlette app
    return {
        (route.path, method)
        for route in routes
        if isinstance(route, Route) and route.path != "/openapi.json"
        for method in (route.methods or set()) - {"HEAD"}
    }


def test_pipelines_are_listed_and_described(daemon: DaemonProcess) -> None:
    listed = daemon.get("/v1/pipelines")
    assert listed.status == 200
    pipelines = {p["name"]: p for p in listed.json()["pipelines"]}
    assert set(pipelines) == {"issues", "slow"}
    assert pipelines["slow"]["source"] == "http" and pipelines["slow"]["table"] == "slow"

    described = daemon.get("/v1/pipelines/slow?runs=3")
    assert described.status == 200
    assert described.json()["name"] == "slow"
    assert described.json()["spec"]["chunk_rows"] == 20

    error = _error(daemon.get("/v1/pipelines/nope"), 404, "unknown_pipeline")
    assert "'nope'" in error["message"] and error["hint"] == "pipelines: issues, slow"


def test_run_now_succeeds_and_fills_the_context_store(
    daemon: DaemonProcess, api: DemoApi, issues_run: dict[str, Any]
) -> None:
    assert issues_run["status"] == "succeeded", issues_run
    assert issues_run["rows"] == api.issue_count and issues_run["trigger"] == "api"
    run_id = issues_run["run_id"]

    record = daemon.get(f"/v1/runs/{run_id}").json()
    kinds = [step["kind"] for step in record["steps"]]
    assert kinds[0] == "pull" and kinds[-1] == "commit", kinds

    runs = daemon.get("/v1/runs?pipeline=issues").json()["runs"]
    assert [r["run_id"] for r in runs][:1] == [run_id]
    assert {r["pipeline"] for r in runs} == {"issues"}
    _error(daemon.get("/v1/runs?pipeline=nope"), 404, "unknown_pipeline")
    _error(daemon.get("/v1/runs/nope"), 404, "unknown_run")

    tables = {t["name"]: t for t in daemon.get("/v1/tables").json()["tables"]}
    assert tables["issues"]["pipeline"] == "issues"
    schema = daemon.get("/v1/tables/issues/schema")
    assert schema.status == 200
    assert {"id", "title"} <= {c["name"] for c in schema.json()["columns"]}
    _error(daemon.get("/v1/tables/nope/schema"), 404, "unknown_table")

    counted = daemon.post("/v1/query", {"sql": "select count(distinct id) as n from issues"})
    assert counted.status == 200, counted
    assert counted.json()["rows"] == [[api.issue_count]]
    described = daemon.get("/v1/pipelines/issues").json()
    assert described["table"]["rows"] == api.issue_count


def test_requests_that_do_not_match_the_document_are_422(daemon: DaemonProcess) -> None:
    for path in ("/v1/pipelines?limt=5", "/v1/runs?limt=5", "/v1/tables?x=1"):
        error = _error(daemon.get(path), 422, "invalid_request")
        assert error["message"].split(":")[0] in ("limt", "x"), error
        assert error["hint"] == "see /openapi.json for the accepted input"
    _error(daemon.get("/v1/runs?limit=0"), 422, "invalid_request")
    _error(daemon.get("/v1/pipelines/issues?runs=many"), 422, "invalid_request")

    # Not JSON at all is bad input (400); JSON that is not the body documented is 422.
    not_json = _error(_post_raw(daemon, "/v1/query", b'{"sql": "select 1"'), 400, "invalid_json")
    assert not_json["message"].startswith("the request body is not JSON"), not_json
    _error(_post_raw(daemon, "/v1/query", b""), 422, "invalid_request")
    for body in ({"sql": ""}, {"sql": 5}, {"sql": "select 1", "limt": 5}, {"sql": "x", "limit": 0}):
        _error(daemon.post("/v1/query", body), 422, "invalid_request")


def test_unknown_routes_and_methods_answer_the_json_error_shape(daemon: DaemonProcess) -> None:
    _error(daemon.get("/v2/nothing"), 404, "not_found")
    _error(daemon.request("DELETE", "/v1/pipelines"), 405, "method_not_allowed")


# -- the event stream -------------------------------------------------------------------------


def test_events_of_a_run_in_flight_then_resume_after_last_event_id(
    daemon: DaemonProcess, slow_api: DemoApi
) -> None:
    with _holding(slow_api):
        started = daemon.post("/v1/pipelines/slow/runs")
        assert started.status == 202, started
        run_id = started.json()["run_id"]
        assert started.json()["events"] == f"/v1/runs/{run_id}/events"
        assert slow_api.wait_held(_WAIT)
        with _events(daemon, run_id) as stream:
            head = _run_until(stream, "progress")
            # The third page is held: the run is still going while its events arrive.
            assert daemon.get(f"/v1/runs/{run_id}").json()["run"]["status"] == "running"
            slow_api.release()
            events = head + _rest(stream)

    kinds = [e.kind for e in events]
    assert kinds[0] == "status" and events[0].data["status"] == "starting", events[0]
    assert kinds[-1] == "end" and kinds.count("end") == 1, kinds
    assert set(kinds[1:-1]) == {"progress"}, kinds
    ids = [e.id for e in events if e.id is not None]
    assert len(ids) == len(events) and ids == sorted(set(ids)), ids
    progress = [e.data for e in events if e.kind == "progress"]
    assert [p["rows"] for p in progress] == sorted(p["rows"] for p in progress)
    assert progress[-1] == {"pages": 10, "rows": slow_api.issue_count}
    end = events[-1].data
    assert end["run_id"] == run_id and end["status"] == "succeeded", end
    assert end["rows"] == slow_api.issue_count

    # Resuming after an event yields exactly the events that followed it, then closes.
    after = events[1].id
    assert after is not None
    with _events(daemon, run_id, last_event_id=after) as stream:
        assert _rest(stream) == events[2:]


def test_events_of_a_run_made_by_hakiri_run_come_from_the_catalog(
    daemon: DaemonProcess, slow_api: DemoApi, project: Path
) -> None:
    with _holding(slow_api):
        proc = spawn_hakiri("run", "slow", cwd=project)
        try:
            assert slow_api.wait_held(_WAIT)
            run_id = _running_run(daemon, "slow")
            with _events(daemon, run_id) as stream:
                [first] = _run_until(stream, "status")
                assert first.data["status"] == "running" and first.data["trigger"] == "manual"
                slow_api.release()
                events = [first, *_rest(stream)]
            out, err = proc.communicate(timeout=_WAIT)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
    assert proc.returncode == 0, err
    assert [e.kind for e in events][-1] == "end" and events[-1].data["run_id"] == run_id
    assert events[-1].data["status"] == "succeeded"
    assert events[-1].data["rows"] == slow_api.issue_count
    assert {e.kind for e in events[:-1]} == {"status"}


def _running_run(daemon: DaemonProcess, pipeline: str) -> str:
    """The id of ``pipeline``'s run in flight, once the catalog has it."""
    found: list[str] = []

    def check() -> bool:
        runs = daemon.get(f"/v1/runs?pipeline={pipeline}&limit=1").json()["runs"]
        found[:] = [r["run_id"] for r in runs if r["status"] == "running"]
        return bool(found)

    _eventually(check, f"a running run of {pipeline}")
    return found[0]


# -- busy -------------------------------------------------------------------------------------


def test_a_pipeline_runs_once_at_a_time_whoever_starts_it(
    daemon: DaemonProcess, slow_api: DemoApi, project: Path
) -> None:
    # The daemon runs it: a second run-now and a `hakiri run` in a terminal are both refused.
    with _holding(slow_api):
        first = daemon.post("/v1/pipelines/slow/runs")
        assert first.status == 202, first
        assert slow_api.wait_held(_WAIT)
        error = _error(daemon.post("/v1/pipelines/slow/runs"), 409, "pipeline_busy")
        assert "'slow'" in error["message"]
        cli = run_hakiri("run", "slow", cwd=project, timeout=_WAIT)
        assert cli.returncode != 0 and cli.stdout == ""
        [line] = cli.stderr.splitlines()
        assert line.startswith("error[pipeline_busy]: pipeline 'slow' is already running"), line
    assert daemon.wait_run(first.json()["run_id"], timeout=_WAIT)["status"] == "succeeded"

    # A `hakiri run` holds the lock: the daemon's run-now is refused, naming that process.
    with _holding(slow_api):
        proc = spawn_hakiri("run", "slow", cwd=project)
        try:
            assert slow_api.wait_held(_WAIT)
            error = _error(daemon.post("/v1/pipelines/slow/runs"), 409, "pipeline_busy")
            assert f"(pid {proc.pid})" in error["message"], error
            assert daemon.get("/healthz").json()["running"] == []  # the refusal left no trace
            slow_api.release()
            _, err = proc.communicate(timeout=_WAIT)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
    assert proc.returncode == 0, err
    # Free again: the daemon's next run goes ahead.
    again = daemon.post("/v1/pipelines/slow/runs")
    assert again.status == 202, again
    assert daemon.wait_run(again.json()["run_id"], timeout=_WAIT)["status"] == "succeeded"


# -- DNS-rebinding guard (loopback, no token) -------------------------------------------------


@pytest.mark.parametrize(
    "host", ["evil.example", "evil.example:80", "127.0.0.1.evil.example", "localhost.evil:7700"]
)
def test_a_foreign_host_header_is_refused_on_loopback(daemon: DaemonProcess, host: str) -> None:
    for path in ("/v1/pipelines", "/healthz", "/mcp"):
        error = _error(daemon.get(path, headers={"Host": host}), 403, "host_not_allowed")
        assert repr(host) in error["message"], error


def test_loopback_host_headers_are_served(daemon: DaemonProcess) -> None:
    for host in (f"127.0.0.1:{daemon.port}", f"localhost:{daemon.port}", f"[::1]:{daemon.port}"):
        assert daemon.get("/v1/pipelines", headers={"Host": host}).status == 200, host
