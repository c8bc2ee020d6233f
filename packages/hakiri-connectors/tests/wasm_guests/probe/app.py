"""A guest for the host's tests: each option `mode` exercises one host behaviour.

- ``issues``: pages of the demo API's ``/issues`` (page-number pagination), as JSON Lines,
  with a monotonic cursor (the newest ``updated_at``);
- ``echo``: one page whose single row is the ``/anything`` echo of a request carrying
  ``Authorization: Bearer <token>`` (the token is a ``secret://`` reference);
- ``arrow``: one page whose rows are the Arrow IPC bytes given (base64) in ``ipc_base64``;
- ``fetch``: one page whose row is the outcome of fetching ``url`` (status or error text),
  with ``Authorization: Bearer secret://<secret_name>`` when ``secret_name`` is given;
- ``spin``, ``bomb``, ``flood``, ``crash``, ``print_crash``: misbehave inside ``read``;
- ``bad_config`` / ``bad_source``: return the WIT connector errors (``bad_config`` from
  ``discover`` and ``plan`` too);
- ``discover_fetch``: ``discover`` fetches ``url`` and names a stream by the status.
"""

import base64
import json

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports import host, types


def _opts(options: str) -> dict:
    return json.loads(options)


def _page(key: str, params: dict) -> types.Page:
    return types.Page(key=key, params=json.dumps(params))


def _lines(rows: list) -> bytes:
    return b"".join(json.dumps(row).encode() + b"\n" for row in rows)


def _data(rows: list, next_pages: list, cursor=None) -> types.PageData:
    return types.PageData(
        format=types.PageFormat.JSON_LINES,
        rows=_lines(rows),
        next_pages=next_pages,
        cursor=None if cursor is None else json.dumps(cursor),
    )


def _get(url: str, headers: list) -> types.Response:
    try:
        return host.fetch(types.Request("GET", url, headers, None))
    except Err as exc:
        raise Err(types.ConnectorError_Source(f"GET {url}: {exc.value}")) from None


class Source(exports.Source):
    def spec(self) -> str:
        return json.dumps({"type": "object", "properties": {"mode": {"type": "string"}}})

    def discover(self, options: str) -> str:
        opts = _opts(options)
        if opts.get("mode") == "bad_config":
            raise Err(types.ConnectorError_Config("option 'url' is required"))
        if opts.get("mode") == "discover_fetch":  # a discover that needs the network
            response = _get(opts["url"], [])
            return json.dumps([{"name": f"status_{response.status}"}])
        return json.dumps(
            [
                {
                    "name": opts.get("stream", "issues"),
                    "description": "the demo API's issues",
                    "primary_key": ["id"],
                    "cursor_field": "updated_at",
                    "options": {"mode": "issues"},
                }
            ]
        )

    def plan(self, options: str, cursor) -> types.ReadPlan:
        opts = _opts(options)
        mode = opts.get("mode", "issues")
        if mode == "bad_config":
            raise Err(types.ConnectorError_Config("option 'url' is required"))
        since = None if cursor is None else json.loads(cursor)
        return types.ReadPlan(
            [_page("page-1", {"page": 1, "since": since})], types.CursorKind.MONOTONIC
        )

    def read(self, options: str, page: types.Page) -> types.PageData:
        opts = _opts(options)
        mode = opts.get("mode", "issues")
        params = json.loads(page.params)
        if mode == "issues":
            return self._issues(opts, params)
        if mode == "echo":
            auth = [types.Header("Authorization", f"Bearer {opts['token']}")]
            response = _get(opts["url"], auth)
            return _data([{"status": response.status, "body": response.body.decode()}], [])
        if mode == "arrow":
            rows = base64.b64decode(opts["ipc_base64"])
            return types.PageData(types.PageFormat.ARROW_IPC, rows, [], None)
        if mode == "fetch":
            headers = []
            if "secret_name" in opts:  # a reference the options do not carry
                value = "Bearer secret://" + opts["secret_name"]
                headers.append(types.Header("Authorization", value))
            try:
                response = host.fetch(types.Request("GET", opts["url"], headers, None))
                row = {"status": response.status, "url": response.url}
            except Err as exc:
                row = {"error": exc.value}
            return _data([row], [])
        return _misbehave(mode)

    def _issues(self, opts: dict, params: dict) -> types.PageData:
        n = params["page"]
        per_page = opts.get("per_page", 10)
        url = f"{opts['url']}?page={n}&per_page={per_page}&sort=updated&direction=asc"
        if params.get("since"):
            url += f"&since={params['since']}"
        response = _get(url, [types.Header("Accept", "application/json")])
        if response.status != 200:
            raise Err(types.ConnectorError_Source(f"GET {url}: HTTP {response.status}"))
        rows = json.loads(response.body)
        host.log(types.LogLevel.INFO, f"page {n}: {len(rows)} issues")
        following = [_page(f"page-{n + 1}", {**params, "page": n + 1})] if rows else []
        newest = max((row["updated_at"] for row in rows), default=None)
        return _data(rows, following, newest)


def _misbehave(mode: str) -> types.PageData:
    if mode == "spin":
        n = 0
        while True:
            n += 1
    if mode == "bomb":
        hoard = []
        while True:
            hoard.append(bytearray(8 << 20))
    if mode == "flood":
        while True:
            host.log(types.LogLevel.INFO, "x" * 1000)
    if mode == "print_crash":
        print("guest says: about to fail")
        raise RuntimeError("boom from the guest")
    if mode == "crash":
        raise RuntimeError("boom from the guest")
    if mode == "bad_source":
        raise Err(types.ConnectorError_Source("the API answered nonsense"))
    raise Err(types.ConnectorError_Config(f"unknown mode {mode!r}"))
