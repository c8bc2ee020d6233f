"""A source that echoes a secret never gets it stored: the http connector scrubs responses.

Real ``hakiri run`` subprocesses read two real servers on 127.0.0.1 that echo what they were
sent — the demo API's httpbin-style ``/anything`` (headers, query and URL) and a small echo
server that repeats the ``Authorization`` header in every encoding a server might use — and
the committed Parquet files and the catalog must hold the ``secret://NAME`` reference in
place of the value, in no raw, JSON-escaped or URL-encoded form.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import pyarrow.parquet as pq
import pytest

from hakiri.testing.cli import run_hakiri
from hakiri.testing.demo_api import DemoApi
from hakiri.testing.project import write_manifest

SECRET = 's3cr3t/Zk+9 q&=x"y'
"""Characters that JSON escapes and URLs encode, so every form differs from the raw one."""
REFERENCE = "secret://DEMO_TOKEN"


def _forms(value: str) -> set[str]:
    """Every way the value could have been stored, written out independently of the code."""
    forms = {value, quote(value, safe=""), quote_plus(value)}
    forms |= {form.lower() for form in list(forms) if "%" in form}
    escaped = json.dumps(value)[1:-1]
    forms |= {escaped, escaped.replace("/", "\\/")}
    return forms


class _EchoHandler(BaseHTTPRequestHandler):
    """Answers a JSON array whose records repeat the Authorization header, encoded five ways."""

    def do_GET(self) -> None:
        header = self.headers.get("Authorization", "")
        escaped = "".join(f"\\u{ord(c):04x}" for c in header)  # JSON, every char escaped
        slashed = json.dumps(header)[1:-1].replace("/", "\\/")
        body = (
            "["
            f'{{"id": 1, "auth": {json.dumps(header)}}},'
            f'{{"id": 2, "auth": "{escaped}"}},'
            f'{{"id": 3, "auth": "{slashed}"}},'
            f'{{"id": 4, "auth": {json.dumps(quote(header, safe=""))}}},'
            f'{{"id": 5, "auth": null, "nested": {{"deep": [{json.dumps(header)}]}}}}'
            "]"
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def echo() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _EchoHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture(scope="module")
def api() -> Iterator[DemoApi]:
    with DemoApi(issues=5) as server:
        yield server


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _stored_text(project: Path, table: str) -> str:
    """Every string of every committed row of ``table``, and every row of the catalog."""
    files = sorted((project / ".hakiri" / "context" / table).rglob("*.parquet"))
    assert files, f"nothing committed for {table}"
    texts = [s for path in files for s in _strings(pq.read_table(path).to_pylist())]
    con = sqlite3.connect(f"file:{project / '.hakiri' / 'catalog.db'}?mode=ro", uri=True)
    try:
        texts.extend(con.iterdump())
    finally:
        con.close()
    return "\n".join(texts)


def _run(project: Path, pipeline: str) -> None:
    result = run_hakiri("run", pipeline, cwd=project, env={"DEMO_TOKEN": SECRET}).check()
    assert SECRET not in result.stdout + result.stderr


def test_an_echoed_header_and_query_parameter_are_stored_as_references(
    tmp_path: Path, api: DemoApi
) -> None:
    write_manifest(
        tmp_path,
        f"""[pipelines.echo.source]
connector = "http"
url = "{api.url}/anything"
params = {{ api_key = "{REFERENCE}", page = 1 }}
headers = {{ Authorization = "Bearer {REFERENCE}", X-Api-Key = "{REFERENCE}" }}
""",
    )
    _run(tmp_path, "echo")
    sent = api.requests_to("/anything")[-1]
    assert sent.headers["authorization"] == f"Bearer {SECRET}"  # the server did get it
    stored = _stored_text(tmp_path, "echo")
    for form in _forms(SECRET):
        assert form not in stored, form
    [row] = [
        r
        for p in (tmp_path / ".hakiri/context/echo").rglob("*.parquet")
        for r in pq.read_table(p).to_pylist()
    ]
    assert row["headers"]["Authorization"] == f"Bearer {REFERENCE}"
    assert row["args"]["api_key"] == REFERENCE


def test_every_encoding_of_an_echoed_secret_is_scrubbed_from_rows(
    tmp_path: Path, echo: str
) -> None:
    write_manifest(
        tmp_path,
        f"""[pipelines.records.source]
connector = "http"
url = "{echo}/records"
headers = {{ Authorization = "Bearer {REFERENCE}" }}
""",
    )
    _run(tmp_path, "records")
    stored = _stored_text(tmp_path, "records")
    for form in _forms(SECRET):
        assert form not in stored, form
    rows = {
        row["id"]: row
        for path in (tmp_path / ".hakiri/context/records").rglob("*.parquet")
        for row in pq.read_table(path).to_pylist()
    }
    assert [rows[i]["auth"] for i in (1, 2, 3)] == [f"Bearer {REFERENCE}"] * 3
    assert rows[4]["auth"] == f"Bearer%20{REFERENCE}"  # URL-encoded: the value's form only
    assert rows[5]["nested"]["deep"] == [f"Bearer {REFERENCE}"]
