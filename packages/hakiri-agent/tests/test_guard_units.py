"""The daemon's front door as units: origins, the request guard as an ASGI app, JSON bodies,
and the OpenAPI document. They need only hakiri-agent and what it declares (no daemon
process), so they also run in the member's own wheel-only environment."""

from __future__ import annotations

import json
from typing import Any

import anyio
import pytest

from hakiri.agent.daemon.body import MAX_DEPTH, BadBody, parse_json
from hakiri.agent.daemon.guard import Guard, GuardRules, normalize_origin, origins
from hakiri.agent.daemon.openapi import openapi_document

TOKEN = "a-token-of-sixteen-or-more"


@pytest.mark.parametrize(
    ("given", "spelled"),
    [
        ("http://127.0.0.1:8700", "http://127.0.0.1:8700"),
        ("HTTPS://App.Example.com:443/", "https://app.example.com"),
        ("http://example.com:80", "http://example.com"),
        ("http://[::1]:9000", "http://[::1]:9000"),
    ],
)
def test_an_origin_is_spelled_one_way(given: str, spelled: str) -> None:
    assert normalize_origin(given) == spelled


@pytest.mark.parametrize(
    "junk",
    [
        "null",
        "ftp://x.org",
        "http://x.org/path",
        "http://x.org?q=1",
        "http://u@x.org",
        "http://x:99999",
    ],
)
def test_what_is_not_an_origin_is_refused(junk: str) -> None:
    with pytest.raises(ValueError, match="origin|port"):
        origins([junk])


class _Recorder:
    """The app behind the guard: records what reaches it and answers 200."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        body = b""
        if scope["method"] not in ("GET", "HEAD", "OPTIONS"):
            body = (await receive())["body"]
        self.bodies.append(body)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


def _call(
    rules: GuardRules,
    method: str,
    path: str,
    headers: dict[str, str],
    body: bytes = b"",
) -> tuple[int, dict[str, Any] | None, _Recorder]:
    app = _Recorder()
    guard = Guard(app, rules)
    sent: list[dict[str, Any]] = []
    scope = {
        "type": "http",
        "method": method,
        "path": path,
        "scheme": "http",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
    }
    messages = [{"type": "http.request", "body": body, "more_body": False}]

    async def receive() -> dict[str, Any]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    anyio.run(guard, scope, receive, send)
    status = sent[0]["status"]
    payload = b"".join(m.get("body", b"") for m in sent[1:])
    return status, (json.loads(payload) if status != 200 else None), app


LOOPBACK = GuardRules(token=None, loopback=True)
JSON = {"host": "127.0.0.1:8700", "content-type": "application/json"}


def test_a_same_machine_json_request_reaches_the_app_with_its_body() -> None:
    status, _, app = _call(LOOPBACK, "POST", "/v1/query", JSON, b'{"sql": "select 1"}')
    assert status == 200
    assert app.bodies == [b'{"sql": "select 1"}']


@pytest.mark.parametrize(
    ("headers", "status", "code"),
    [
        ({**JSON, "origin": "http://evil.example"}, 403, "origin_not_allowed"),
        ({**JSON, "sec-fetch-site": "cross-site"}, 403, "origin_not_allowed"),
        ({**JSON, "host": "attacker.example"}, 403, "host_not_allowed"),
        ({**JSON, "content-type": "text/plain"}, 415, "unsupported_media_type"),
    ],
)
def test_requests_a_browser_could_forge_never_reach_the_app(
    headers: dict[str, str], status: int, code: str
) -> None:
    got, error, app = _call(LOOPBACK, "POST", "/v1/pipelines/x/runs", headers, b"{}")
    assert (got, error and error["error"]["code"]) == (status, code)
    assert app.bodies == []


def test_the_own_and_allowed_origins_pass() -> None:
    rules = GuardRules(token=None, loopback=True, allow_origins=origins(["https://ui.example"]))
    for origin in ("http://127.0.0.1:8700", "https://ui.example"):
        status, _, _ = _call(rules, "POST", "/v1/query", {**JSON, "origin": origin}, b"{}")
        assert status == 200, origin


def test_a_token_is_checked_and_the_health_check_stays_open() -> None:
    rules = GuardRules(token=TOKEN, loopback=False)
    headers = {"host": "hakiri.internal:8700", "content-type": "application/json"}
    assert _call(rules, "POST", "/v1/query", headers, b"{}")[0] == 401
    wrong = {**headers, "authorization": "Bearer not-the-token"}
    status, error, _ = _call(rules, "POST", "/v1/query", wrong, b"{}")
    assert (status, error and error["error"]["message"]) == (401, "wrong bearer token")
    right = {**headers, "authorization": f"bearer {TOKEN}"}  # the scheme is case-insensitive
    assert _call(rules, "POST", "/v1/query", right, b"{}")[0] == 200
    assert _call(rules, "GET", "/healthz", {"host": "hakiri.internal:8700"})[0] == 200


def test_a_body_over_the_limit_is_refused_before_the_app() -> None:
    rules = GuardRules(token=None, loopback=True, max_body=64)
    status, error, app = _call(rules, "POST", "/v1/query", JSON, b"{" + b" " * 100 + b"}")
    assert status == 413 and app.bodies == []
    assert error is not None


def test_json_bodies_are_bounded_and_strict() -> None:
    assert parse_json(b'{"a": [1, {"b": null}]}') == {"a": [1, {"b": None}]}
    nested = b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1)
    for bad, reason in [
        (b"", "empty"),
        (b"{", "not JSON"),
        (b'{"x": NaN}', "not JSON"),
        (nested, "nests deeper"),
        (b"[" * 100_000 + b"]" * 100_000, "nests deeper"),
    ]:
        with pytest.raises(BadBody, match=reason):
            parse_json(bad)


def test_the_openapi_document_describes_every_operation_once() -> None:
    document = openapi_document("1.2.3", token=True)
    assert document["openapi"] == "3.1.0" and document["info"]["version"] == "1.2.3"
    ids = [op["operationId"] for path in document["paths"].values() for op in path.values()]
    assert len(ids) == len(set(ids)) and {"health", "runEvents"} <= set(ids)
    assert "/v1/query" in document["paths"]
    assert document["security"] == [{"bearer": []}]
    assert "security" not in openapi_document("1.2.3", token=False)
    json.dumps(document)  # plain JSON, servable as it is
