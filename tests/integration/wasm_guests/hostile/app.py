"""A hostile ``hakiri:connector`` guest: one component whose option ``mode`` picks the attack.

``plan`` returns one harmless "warmup" page whose read returns a row and reveals the
"attack" page, so a run exists in the catalog (the source answered) before the attack runs.
Modes (the attack page's behaviour):

- ``ok``: no attack page; three harmless rows (the well-behaved call).
- ``loop``: spins forever (stopped by the wall-clock deadline, or by fuel).
- ``memory``: allocates 8 MiB blocks until an allocation fails.
- ``log``: logs without end.
- ``fetch``: fetches ``target`` (a host it may not reach) and, if refused, carries on as if
  nothing happened — the host must fail the run anyway.
- ``secret_other``: sends ``secret://OTHER`` (a name it never declared) to ``url``, swallowing
  any refusal.
- ``echo``: sends the ``token`` reference (``secret://NAME``) to ``url`` (an echo endpoint) in
  a header and the query string, logs the echoed body and returns it as a row.
- ``snoop``: reads the environment and tries files and directories a secret could hide in,
  and returns what it found.

This file is compiled by componentize-py (``hakiri.testing.wasm.build_component``); it is not
imported by the tests.
"""

import json
import os

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports import host, types

SPEC = {
    "type": "object",
    "properties": {
        "mode": {
            "enum": ["ok", "loop", "memory", "log", "fetch", "secret_other", "echo", "snoop"],
            "description": "which hostile behaviour the attack page shows",
        },
        "url": {"type": "string", "description": "a URL it may fetch (an echo endpoint)"},
        "target": {"type": "string", "description": "a URL it should not be able to fetch"},
        "token": {"type": "string", "description": "a secret reference, secret://NAME"},
    },
    "required": ["mode"],
}

SNOOPED_FILES = [
    ".env",
    "hakiri.toml",
    "/proc/self/environ",
    "/etc/passwd",
    "/.env",
    "/tmp",
]


def _jsonl(rows):
    return "".join(json.dumps(row) + "\n" for row in rows).encode()


def _page(step):
    return types.Page(key=step, params=json.dumps({"step": step}))


def _data(rows, next_pages=()):
    return types.PageData(
        format=types.PageFormat.JSON_LINES,
        rows=_jsonl(rows),
        next_pages=list(next_pages),
        cursor=None,
    )


def _row(mode, step, detail, n=1):
    return {"id": n, "mode": mode, "step": step, "detail": detail}


def _get(url, headers=()):
    """Fetch ``url``; a refusal comes back as text (a hostile guest swallows it)."""
    request = types.Request(
        method="GET",
        url=url,
        headers=[types.Header(name=k, value=v) for k, v in headers],
        body=None,
    )
    try:
        response = host.fetch(request)
    except Err as refused:
        return "refused: " + str(refused.value)
    return response.body.decode("utf-8", "replace")


def _loop():
    n = 0
    while True:
        n += 1


def _memory():
    hoard = []
    while True:
        hoard.append(bytearray(8 << 20))


def _log():
    # Many short lines, not one long one: the host must meter a rate, not a line's size.
    n = 0
    while True:
        n += 1
        host.log(types.LogLevel.INFO, f"flood line {n} " + "x" * 64)


def _snoop():
    found = {"environ": dict(os.environ), "files": {}, "cwd": None, "root": None}
    for path in SNOOPED_FILES:
        try:
            with open(path, "rb") as handle:
                found["files"][path] = handle.read(4096).decode("utf-8", "replace")
        except Exception as exc:  # noqa: BLE001 - what failed is the finding
            found["files"][path] = "error: " + type(exc).__name__
    for key, path in (("cwd", "."), ("root", "/")):
        try:
            found[key] = sorted(os.listdir(path))
        except Exception as exc:  # noqa: BLE001
            found[key] = "error: " + type(exc).__name__
    return json.dumps(found, sort_keys=True)


def _attack(mode, options):
    if mode == "loop":
        _loop()
    if mode == "memory":
        _memory()
    if mode == "log":
        _log()
    if mode == "fetch":
        return _get(options["target"])
    if mode == "secret_other":
        return _get(options["url"], [("Authorization", "Bearer secret://OTHER")])
    if mode == "echo":
        token = options["token"]
        separator = "&" if "?" in options["url"] else "?"
        body = _get(
            options["url"] + separator + "token=" + token,
            [("Authorization", "Bearer " + token), ("X-Api-Key", token)],
        )
        host.log(types.LogLevel.INFO, "echoed: " + body)
        return body
    if mode == "snoop":
        return _snoop()
    raise Err(types.ConnectorError_Config("unknown mode " + repr(mode)))


class Source(exports.Source):
    def spec(self):
        return json.dumps(SPEC)

    def discover(self, options):
        return json.dumps([{"name": "hostile", "primary_key": ["id"]}])

    def plan(self, options, cursor):
        return types.ReadPlan(pages=[_page("warmup")], cursor_kind=types.CursorKind.OPAQUE_TOKEN)

    def read(self, options, page):
        opts = json.loads(options)
        mode = opts["mode"]
        step = json.loads(page.params)["step"]
        if mode == "ok":
            return _data([_row(mode, step, f"row {n}", n) for n in (1, 2, 3)])
        if step == "warmup":
            return _data([_row(mode, step, "harmless")], [_page("attack")])
        return _data([_row(mode, step, _attack(mode, opts), 2)])
