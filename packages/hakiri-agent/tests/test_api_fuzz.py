"""Property-based fuzzing of the daemon's HTTP API against the daemon's own OpenAPI document.

A real ``hakiri serve`` subprocess serves a small project (a file pipeline and an http
pipeline reading the demo API, both run once so their tables exist). Schemathesis loads
``GET /openapi.json`` from it and generates requests for every documented operation: valid
ones, and invalid ones (wrong types, out-of-range numbers, unknown query parameters, bodies
that break the schema). Every answer must come within ``_TIMEOUT`` seconds, not be a 5xx,
have a status the document lists for the operation and the content type and shape it lists
for that status; an invalid request must be refused with a 4xx.

Generated path segments are random strings that name nothing; so that the code behind a 200
is fuzzed too, a drawn share of the cases is pointed at the project's real pipelines, tables
and runs. The same fuzz runs against a daemon started with a token: there a drawn share of
the cases goes without ``Authorization`` and must get the 401 the document lists.

Schemathesis's own pytest integration (``from_fixture`` + ``parametrize``) fails on pytest
9.2 (it reads ``Node._nodeid``, which pytest 9.2 removed), so this module drives its public
Python API (``from_url``, ``APIOperation.as_strategy``, ``Case.call``,
``Case.validate_response``) from Hypothesis directly.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir
from schemathesis import APIOperation, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from hakiri.agent.daemon.openapi import openapi_document
from hakiri.testing.daemon import DaemonProcess
from hakiri.testing.demo_api import DemoApi
from hakiri.testing.project import write_manifest

_Case = schemathesis.Case[APIOperation[Any, Any, Any, Any]]

# Two daemons, ~13 operations each: well under a minute; the bound is for a hang.
pytestmark = pytest.mark.timeout(120)

_TIMEOUT = 10.0
"""Seconds any one request may take: an answer later than this is a hang."""
_TOKEN = "fuzz-token-0123456789abcdef"
_WRONG_CREDENTIALS = (None, f"Bearer {_TOKEN[:-1]}", _TOKEN, f"Basic {_TOKEN}")
"""What an unauthorized case sends as Authorization (None: no header)."""
_EXAMPLES = 25
"""Generated cases per operation and daemon."""
_CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
]
_OPERATIONS = sorted(
    f"{method.upper()} {path}"
    for path, methods in openapi_document("0", token=False)["paths"].items()
    for method in methods
)
"""Every documented operation, from the same table the daemon serves its document from
(``test_the_document_lists_every_operation`` checks the served one says the same)."""
_SQL = (
    "select count(*) as n from orders",
    "select id, title from issues order by id desc",
    "select o.*, i.title from orders o join issues i on i.id = o.order_id",
)
"""Queries that read the project's tables (generated SQL hardly ever parses)."""

# Schemathesis reads a schemathesis.toml found above the working directory, if any: this
# config states everything the fuzz depends on, so a stray file changes nothing.
_CONFIG = schemathesis.Config.from_dict(
    {"seed": 20261123, "request-timeout": _TIMEOUT, "generation": {"deterministic": True}}
)


@dataclass(frozen=True)
class _Target:
    daemon: DaemonProcess
    schema: schemathesis.BaseSchema
    known: dict[str, list[str]]
    """Path or query parameter -> values that name something real in the project."""


def _project(root: Path, api: DemoApi) -> Path:
    project = root / "project"
    (project / "data").mkdir(parents=True)
    (project / "data" / "orders.csv").write_text(
        "order_id,customer,amount\n1,ada,12.50\n2,grace,7.25\n3,alan,99.00\n", encoding="utf-8"
    )
    write_manifest(
        project,
        f"""
[pipelines.orders.source]
connector = "file"
path = "data/*.csv"

[pipelines.issues.source]
connector = "http"
url = "{api.url}/issues"
params = {{ style = "link", per_page = 20 }}
pagination = {{ kind = "link_header" }}
""",
    )
    return project


def _run_once(daemon: DaemonProcess, pipeline: str) -> str:
    answer = daemon.post(f"/v1/pipelines/{pipeline}/runs", timeout=_TIMEOUT)
    assert answer.status == 202, answer
    run = daemon.wait_run(answer.json()["run_id"], timeout=60)
    assert run["status"] == "succeeded", run
    return str(run["run_id"])


@pytest.fixture(scope="module", autouse=True)
def _hypothesis_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Hypothesis caches (constants, unicode data) under a temporary directory, not the
    working directory: a test run leaves the checkout as it found it."""
    set_hypothesis_home_dir(tmp_path_factory.mktemp("hypothesis"))
    yield
    set_hypothesis_home_dir(None)


@pytest.fixture(scope="module", params=["open", "token"])
def target(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[_Target]:
    """A daemon (without, then with a token) over a project whose pipelines ran once."""
    token = _TOKEN if request.param == "token" else None
    root = tmp_path_factory.mktemp(f"fuzz-{request.param}")
    with DemoApi(issues=45) as api:
        project = _project(root, api)
        with DaemonProcess(project, token=token) as daemon:
            runs = [_run_once(daemon, "orders"), _run_once(daemon, "issues")]
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            schema = schemathesis.openapi.from_url(
                f"{daemon.url}/openapi.json", config=_CONFIG, headers=headers, timeout=_TIMEOUT
            )
            names = ["orders", "issues"]
            known = {"name": names, "pipeline": names, "run_id": runs}
            yield _Target(daemon, schema, known)
            log = daemon.log()
            assert daemon.stop() == 0, log
            assert "Traceback" not in log, log


def test_the_document_lists_every_operation(target: _Target) -> None:
    served = sorted(
        f"{method.upper()} {path}"
        for path, methods in target.schema.raw_schema["paths"].items()
        for method in methods
    )
    assert served == _OPERATIONS
    if target.daemon.token is None:
        assert "security" not in target.schema.raw_schema
        return
    assert target.schema.raw_schema["security"] == [{"bearer": []}]
    for path, methods in target.schema.raw_schema["paths"].items():
        for method, operation in methods.items():
            documented = set(operation["responses"])
            assert ("401" in documented) is (path != "/healthz"), (method, path)


@pytest.mark.parametrize("label", _OPERATIONS)
def test_every_answer_is_documented_and_no_5xx(label: str, target: _Target) -> None:
    operation = target.schema.find_operation_by_label(label)
    assert operation is not None, f"{label} is not in the served document"
    cases = st.one_of(
        operation.as_strategy(GenerationMode.POSITIVE),
        operation.as_strategy(GenerationMode.NEGATIVE),
    )

    @given(case=cases, data=st.data())
    @settings(
        max_examples=_EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    def fuzz(case: _Case, data: st.DataObject) -> None:
        _call_and_check(case, data, target)

    fuzz()


def _call_and_check(case: _Case, data: st.DataObject, target: _Target) -> None:
    # A value put in place of a generated one may repair a negative case (a bad name made a
    # real one, a bad header the real token); schemathesis still counts the case negative,
    # so "negative data rejected" is checked only on cases sent as generated.
    altered = _point_at_real_things(case, data, target)
    authorized = True
    if target.daemon.token is not None:
        # Set on the case itself (not as extra headers to `call`), so that schemathesis knows
        # what was sent: a negative case whose only fault was the header is positive now.
        authorized = data.draw(st.booleans(), label="authorized")
        credential: str | None = f"Bearer {_TOKEN}"
        if not authorized:
            credential = data.draw(st.sampled_from(_WRONG_CREDENTIALS), label="Authorization")
        altered = altered or "Authorization" in case.headers
        case.headers.pop("Authorization", None)  # a case-insensitive dict
        if credential is not None:
            case.headers["Authorization"] = credential
    response = case.call(timeout=_TIMEOUT)
    checks = [c for c in _CHECKS if not (altered and c is negative_data_rejection)]
    case.validate_response(response, checks=checks)
    if not authorized and case.operation.path != "/healthz":
        assert response.status_code == 401, response.text


def _point_at_real_things(case: _Case, data: st.DataObject, target: _Target) -> bool:
    """Replace, each with a drawn chance, generated names and SQL by real ones; say whether
    anything was replaced."""
    altered = False
    for values in (case.path_parameters, case.query):
        for param in list(values):
            real = target.known.get(param)
            if real and data.draw(st.booleans(), label=f"real {param}"):
                values[param] = data.draw(st.sampled_from(real), label=param)
                altered = True
    body = case.body
    if isinstance(body, dict) and isinstance(body.get("sql"), str):
        if data.draw(st.booleans(), label="real sql"):
            body["sql"] = data.draw(st.sampled_from(_SQL), label="sql")
            altered = True
    return altered
