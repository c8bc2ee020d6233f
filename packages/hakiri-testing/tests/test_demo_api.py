"""The demo API behaves like the REST APIs it stands in for."""

from __future__ import annotations

import subprocess
import sys
import threading
from datetime import datetime
from typing import Any

import httpx
import pytest

from hakiri.testing.demo_api import DemoApi


def _follow(client: httpx.Client, url: str, style: str, **params: Any) -> list[dict[str, Any]]:
    """Read every page of /issues in ``style`` by hand; return the issues in order."""
    issues: list[dict[str, Any]] = []
    query: dict[str, Any] = {"style": style, **params}
    next_url: str | None = f"{url}/issues"
    for _ in range(1000):
        assert next_url is not None
        response = client.get(next_url, params=query or None)
        response.raise_for_status()
        body = response.json()
        if style == "link":
            issues += body
            link = response.links.get("next")
            next_url, query = (link["url"], {}) if link else (None, {})
        elif style == "next_url":
            issues += body["data"]
            next_url, query = (
                (str(response.url.join(body["next"])), {}) if body["next"] else (None, {})
            )
        elif style == "token":
            issues += body["items"]
            if body["next_token"] is None:
                next_url = None
            query = {**query, "token": body["next_token"]}
        elif style == "page":
            issues += body["results"]
            page = int(query.get("page", 1))
            if page >= body["total_pages"]:
                next_url = None
            query = {**query, "page": page + 1}
        else:
            issues += body["records"]
            offset = int(query.get("offset", 0)) + len(body["records"])
            if offset >= body["total"]:
                next_url = None
            query = {**query, "offset": offset}
        if next_url is None:
            return issues
    raise AssertionError("pagination did not end")


@pytest.mark.parametrize("style", ["link", "next_url", "token", "page", "offset"])
def test_every_style_serves_every_issue_once_in_order(style: str) -> None:
    with DemoApi(issues=23) as api, httpx.Client() as client:
        issues = _follow(client, api.url, style, per_page=5)
    assert [issue["id"] for issue in issues] == list(range(1, 24))
    updated = [issue["updated_at"] for issue in issues]
    assert updated == sorted(updated)


def test_relative_next_urls_on_request() -> None:
    with DemoApi(issues=7) as api, httpx.Client() as client:
        body = client.get(f"{api.url}/issues?style=next_url&per_page=3&next_relative=1").json()
        assert body["next"].startswith("/issues?")
        issues = _follow(client, api.url, "next_url", per_page=3, next_relative=1)
    assert [issue["id"] for issue in issues] == list(range(1, 8))


def test_issues_look_like_github_issues(demo_api: DemoApi) -> None:
    with httpx.Client() as client:
        issues = client.get(f"{demo_api.url}/issues?per_page=100").json()
    assert len(issues) == 100
    first = issues[0]
    assert set(first) >= {
        "id", "number", "title", "state", "body", "user", "labels", "created_at",
        "updated_at", "comments",
    }  # fmt: skip
    assert set(first["user"]) == {"login", "id"}
    assert all({"name", "color"} == set(label) for i in issues for label in i["labels"])
    days = {i["created_at"][:10] for i in issues}
    assert len(days) >= 3
    datetime.fromisoformat(first["updated_at"])  # parses as ISO-8601
    assert first["updated_at"].endswith("Z")


def test_data_is_deterministic() -> None:
    with DemoApi(issues=40) as one, DemoApi(issues=40) as two, httpx.Client() as client:
        a = client.get(f"{one.url}/issues?style=token&per_page=40").content
        b = client.get(f"{two.url}/issues?style=token&per_page=40").content
    assert a == b


def test_since_is_inclusive_and_filters(demo_api: DemoApi) -> None:
    with httpx.Client() as client:
        all_issues = client.get(f"{demo_api.url}/issues?per_page=100").json()
        pivot = all_issues[41]["updated_at"]
        newer = client.get(
            f"{demo_api.url}/issues", params={"since": pivot, "per_page": 100}
        ).json()
        bad = client.get(f"{demo_api.url}/issues", params={"since": "yesterday"})
    assert [i["id"] for i in newer] == [i["id"] for i in all_issues[41:]]
    assert bad.status_code == 422


def test_add_issues_grows_the_source(demo_api: DemoApi) -> None:
    with httpx.Client() as client:
        last = client.get(f"{demo_api.url}/issues?style=offset&offset=99").json()
        demo_api.add_issues(5)
        grown = client.get(f"{demo_api.url}/issues?style=offset&offset=99").json()
    assert [i["id"] for i in last["records"]] == [100]
    assert [i["id"] for i in grown["records"]] == [100, 101, 102, 103, 104, 105]
    assert grown["total"] == 105 == demo_api.issue_count


def test_anything_echoes_like_httpbin(demo_api: DemoApi) -> None:
    with httpx.Client() as client:
        response = client.post(
            f"{demo_api.url}/anything/deep/path?a=1&a=2&b=x",
            json={"hello": ["world"]},
            headers={"X-Custom-Thing": "yes"},
        )
        form = client.put(f"{demo_api.url}/anything", data={"k": "v"}).json()
    echo = response.json()
    assert set(echo) == {
        "args",
        "data",
        "files",
        "form",
        "headers",
        "json",
        "method",
        "origin",
        "url",
    }
    assert echo["args"] == {"a": ["1", "2"], "b": "x"}
    assert echo["json"] == {"hello": ["world"]}
    assert echo["data"] == '{"hello":["world"]}'
    assert echo["method"] == "POST"
    assert echo["origin"] == "127.0.0.1"
    assert echo["headers"]["X-Custom-Thing"] == "yes"
    assert echo["url"] == f"{demo_api.url}/anything/deep/path?a=1&a=2&b=x"
    assert form["form"] == {"k": "v"} and form["method"] == "PUT" and form["json"] is None


def test_request_log_records_method_path_query_headers(demo_api: DemoApi) -> None:
    with httpx.Client() as client:
        client.get(f"{demo_api.url}/issues?per_page=2&style=page", headers={"X-Token": "t"})
        client.get(f"{demo_api.url}/healthz")
    first, second = demo_api.requests
    assert (first.method, first.path, first.param("per_page")) == ("GET", "/issues", "2")
    assert first.query["style"] == ["page"]
    assert first.headers["x-token"] == "t"
    assert second.path == "/healthz"
    assert demo_api.requests_to("/issues") == [first]
    demo_api.clear_requests()
    assert demo_api.requests == []


def test_fail_next_with_retry_after(demo_api: DemoApi) -> None:
    demo_api.fail_next(429, times=2, retry_after=1)
    demo_api.fail_next(503)
    with httpx.Client() as client:
        statuses = [client.get(f"{demo_api.url}/issues") for _ in range(4)]
        health = client.get(f"{demo_api.url}/healthz")
    assert [r.status_code for r in statuses] == [429, 429, 503, 200]
    assert statuses[0].headers["Retry-After"] == "1"
    assert "Retry-After" not in statuses[2].headers
    assert health.status_code == 200


def test_unknown_path_and_html_and_redirect(demo_api: DemoApi) -> None:
    with httpx.Client() as client:
        assert client.get(f"{demo_api.url}/nope").status_code == 404
        html = client.get(f"{demo_api.url}/html")
        redirected = client.get(
            f"{demo_api.url}/redirect-to",
            params={"url": "/anything?via=redirect"},
            follow_redirects=True,
        )
    assert html.headers["Content-Type"].startswith("text/html")
    assert redirected.json()["args"] == {"via": "redirect"}


def test_hold_page_blocks_until_released(demo_api: DemoApi) -> None:
    demo_api.hold_page(2)
    results: list[int] = []

    def fetch() -> None:
        with httpx.Client() as client:
            for page in (1, 2, 3):
                response = client.get(f"{demo_api.url}/issues?style=page&page={page}")
                results.append(response.status_code)

    worker = threading.Thread(target=fetch)
    worker.start()
    assert demo_api.wait_held(timeout=10)
    assert results == [200]  # the second page is being held
    demo_api.release()
    worker.join(timeout=10)
    assert results == [200, 200, 200]


def test_stop_releases_a_held_request_and_idle_connections() -> None:
    api = DemoApi(issues=5).start()
    api.hold_page(1)
    errors: list[BaseException] = []

    def fetch() -> None:
        try:
            with httpx.Client() as client:
                client.get(f"{api.url}/issues")
        except httpx.HTTPError as exc:
            errors.append(exc)

    with httpx.Client() as idle:  # an idle keep-alive connection must not block stop()
        idle.get(f"{api.url}/healthz")
        worker = threading.Thread(target=fetch)
        worker.start()
        assert api.wait_held(timeout=10)
        api.stop()
        worker.join(timeout=10)
    assert not worker.is_alive()
    api.stop()  # idempotent


def test_set_delay_still_answers(demo_api: DemoApi) -> None:
    demo_api.set_delay(0.05)
    with httpx.Client() as client:
        response = client.get(f"{demo_api.url}/issues?per_page=3")
    demo_api.set_delay(0)
    assert [i["id"] for i in response.json()] == [1, 2, 3]


def test_keep_alive_reuses_one_connection(demo_api: DemoApi) -> None:
    with httpx.Client() as client:
        for _ in range(5):
            client.get(f"{demo_api.url}/issues?per_page=1")
    assert len(demo_api.requests) == 5
    assert demo_api.connections_accepted == 1


def test_a_client_killed_mid_page_leaves_the_server_healthy(demo_api: DemoApi) -> None:
    demo_api.hold_page(1)
    code = f"import httpx; httpx.get({demo_api.url + '/issues'!r}, timeout=60)"
    client = subprocess.Popen([sys.executable, "-c", code])
    try:
        assert demo_api.wait_held(timeout=20)
        client.kill()
        client.wait(timeout=20)
    finally:
        if client.poll() is None:
            client.kill()
            client.wait()
    demo_api.release()  # the held response now goes to a dead socket
    with httpx.Client() as http:
        assert http.get(f"{demo_api.url}/healthz").status_code == 200
        assert len(http.get(f"{demo_api.url}/issues?per_page=3").json()) == 3
