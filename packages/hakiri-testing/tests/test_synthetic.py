"""The synthetic API serves every record once, the same bytes every time, like GitHub does."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import httpx
import orjson
import pytest

from hakiri.testing.synthetic import SyntheticServer

ROWS = 2345


@pytest.fixture(scope="module")
def server() -> Iterator[SyntheticServer]:
    with SyntheticServer(ROWS) as running:
        yield running


def _pages(client: httpx.Client, url: str) -> Iterator[httpx.Response]:
    """Every page from ``url`` on, following ``Link: rel="next"``."""
    next_url: str | None = url
    for _ in range(10_000):
        if next_url is None:
            return
        response = client.get(next_url)
        assert response.status_code == 200
        yield response
        next_url = response.links.get("next", {}).get("url")
    raise AssertionError("pagination did not end")


def _records(client: httpx.Client, url: str) -> list[dict[str, Any]]:
    return [record for page in _pages(client, url) for record in page.json()]


@pytest.mark.parametrize(
    ("rows", "per_page"), [(ROWS, 1000), (ROWS, 100), (ROWS, 7), (2000, 1000), (45, 1)]
)
def test_pagination_serves_every_id_exactly_once_in_order(
    server: SyntheticServer, rows: int, per_page: int
) -> None:
    with httpx.Client() as client:
        if rows == ROWS:
            ids = [r["id"] for r in _records(client, f"{server.url}/issues?per_page={per_page}")]
        else:
            with SyntheticServer(rows) as other:
                url = f"{other.url}/issues?per_page={per_page}"
                ids = [r["id"] for r in _records(client, url)]
    assert ids == list(range(1, rows + 1))


def test_an_empty_source_serves_one_empty_page() -> None:
    with SyntheticServer(0) as empty, httpx.Client() as client:
        response = client.get(f"{empty.url}/issues")
    assert response.json() == []
    assert "link" not in response.headers


def _shape(value: Any) -> str:
    """The type structure of a JSON value, as text (lists by name: checked apart)."""
    if isinstance(value, dict):
        return "{" + ",".join(f"{key}:{_shape(item)}" for key, item in value.items()) + "}"
    return type(value).__name__


def test_records_look_like_github_issues_with_consistent_types(server: SyntheticServer) -> None:
    with httpx.Client() as client:
        records = _records(client, f"{server.url}/issues?per_page=1000")
    keys = {tuple(record) for record in records}
    assert len(keys) == 1
    assert set(next(iter(keys))) >= {
        *("id", "node_id", "number", "title", "state", "locked", "body", "user", "labels"),
        *("assignees", "milestone", "comments", "created_at", "updated_at", "closed_at"),
        *("author_association", "reactions", "url", "html_url"),
    }
    # Per field, one shape — or null (closed_at, milestone) — across all records.
    for field in records[0]:
        shapes = {_shape(r[field]) for r in records if r[field] is not None}
        assert len(shapes) == 1, field
        if field in ("labels", "assignees"):
            assert len({_shape(item) for r in records for item in r[field]}) == 1, field
    assert {r["state"] for r in records} == {"open", "closed"}
    assert all((r["closed_at"] is None) == (r["state"] == "open") for r in records)
    assert {len(r["labels"]) for r in records} == {0, 1, 2, 3}
    assert {r["milestone"] is None for r in records} == {True, False}
    assert len({r["node_id"] for r in records}) == ROWS
    created = [datetime.fromisoformat(r["created_at"]) for r in records]
    assert created == sorted(created) and len(set(created)) == ROWS
    assert all(r["updated_at"] > r["created_at"] for r in records)
    assert all(len(r["body"]) > 100 for r in records)
    average = sum(len(orjson.dumps(r)) for r in records) / ROWS
    assert 600 < average < 900


def test_two_servers_serve_byte_identical_bodies(server: SyntheticServer) -> None:
    with SyntheticServer(ROWS) as other, httpx.Client() as client:
        for query in ("per_page=1000", "per_page=100&page=7", "per_page=33&page=71", ""):
            first = client.get(f"{server.url}/issues?{query}")
            second = client.get(f"{other.url}/issues?{query}")
            assert first.content == second.content
            assert len(first.content) > 2


def test_link_header_names_the_next_and_last_pages(server: SyntheticServer) -> None:
    with httpx.Client() as client:
        first = client.get(f"{server.url}/issues?per_page=100")
        last = client.get(f"{server.url}/issues?per_page=100&page=24")
        beyond = client.get(f"{server.url}/issues?per_page=100&page=25")
        default = client.get(f"{server.url}/issues")
        clamped = client.get(f"{server.url}/issues?per_page=5000&page=2")
    assert first.links["next"]["url"] == f"{server.url}/issues?per_page=100&page=2"
    assert first.links["last"]["url"] == f"{server.url}/issues?per_page=100&page=24"
    assert [r["id"] for r in last.json()] == list(range(2301, ROWS + 1))
    assert "link" not in last.headers
    assert beyond.json() == [] and "link" not in beyond.headers
    assert len(default.json()) == 100
    assert default.links["next"]["url"].endswith("/issues?per_page=100&page=2")
    assert [r["id"] for r in clamped.json()] == list(range(1001, 2001))
    assert clamped.links["next"]["url"].endswith("/issues?per_page=1000&page=3")


def test_headers_are_json_with_exact_length_and_keep_alive(server: SyntheticServer) -> None:
    host, port = server.url.removeprefix("http://").split(":")
    request = b"GET /issues?per_page=3&page=2 HTTP/1.1\r\nHost: x\r\n\r\n"
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(request * 2)  # pipelined on one connection
        stream = sock.makefile("rb")
        for _ in range(2):
            status = stream.readline()
            headers = {}
            while (line := stream.readline()) != b"\r\n":
                name, _, value = line.decode().partition(":")
                headers[name.lower()] = value.strip()
            body = stream.read(int(headers["content-length"]))
            assert status == b"HTTP/1.1 200 OK\r\n"
            assert headers["content-type"] == "application/json"
            assert [r["id"] for r in orjson.loads(body)] == [4, 5, 6]


def test_health_unknown_paths_and_bad_parameters(server: SyntheticServer) -> None:
    with httpx.Client() as client:
        assert client.get(f"{server.url}/healthz").json() == {"status": "ok"}
        assert client.get(f"{server.url}/nope").status_code == 404
        assert client.get(f"{server.url}/issues/1").status_code == 404
        assert client.post(f"{server.url}/issues").status_code == 404
        assert client.get(f"{server.url}/issues?page=0").status_code == 400
        assert client.get(f"{server.url}/issues?per_page=x").status_code == 400
        # The connection survives errors: one client, every answer above on it.
        assert client.get(f"{server.url}/issues?per_page=1").json()[0]["id"] == 1


def test_stops_cleanly_and_releases_the_port() -> None:
    server = SyntheticServer(10).start()
    host, port = server.url.removeprefix("http://").split(":")
    process = server._process
    assert process is not None
    with httpx.Client() as client:  # an idle keep-alive connection must not hold it up
        client.get(f"{server.url}/issues")
        server.stop()
    assert process.returncode == 0
    with socket.socket() as probe:
        assert probe.connect_ex((host, int(port))) != 0
    server.stop()  # idempotent


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_as_a_process_prints_one_line_and_exits_0_on_signal(signum: int) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "hakiri.testing.synthetic", "--rows", "5"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("synthetic API listening on http://127.0.0.1:")
        url = line.split()[-1]
        assert len(httpx.get(f"{url}/issues").json()) == 5
        process.send_signal(signum)
        out, err = process.communicate(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0
    assert out == "" and err == ""


def test_rejects_negative_rows() -> None:
    with pytest.raises(ValueError):
        SyntheticServer(-1)
