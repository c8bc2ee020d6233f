"""The connector's options: one table drives both the JSON Schema (`spec`) and validation.

The host hands every call the pipeline's [source] table (minus `connector` and `grant`) as
JSON text; `parse` checks it and returns an `Options`, or raises `OptionError` naming the
offending key, which the host reports as a config error before the run reads anything.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

__all__ = ["SPEC", "OptionError", "Options", "parse"]

_SECRET_REF = re.compile(r"secret://[A-Za-z_][A-Za-z0-9_]*")
_SCALAR = ("string", "number", "integer", "boolean")

# name -> JSON Schema of the option (with its default, when it has one).
_PROPERTIES: dict[str, dict[str, Any]] = {
    "url": {
        "type": "string",
        "description": "The endpoint returning a JSON array of records (http or https).",
    },
    "params": {
        "type": "object",
        "additionalProperties": {"type": list(_SCALAR)},
        "default": {},
        "description": "Extra query parameters sent with every request.",
    },
    "pagination": {
        "enum": ["link_header", "page_number"],
        "default": "link_header",
        "description": 'Follow `Link: <…>; rel="next"`, or ask page=1, 2, … until a short page.',
    },
    "per_page": {
        "type": "integer",
        "minimum": 1,
        "maximum": 10000,
        "default": 100,
        "description": "Records asked for per request.",
    },
    "per_page_param": {
        "type": "string",
        "minLength": 1,
        "default": "per_page",
        "description": "Query parameter carrying `per_page`.",
    },
    "page_param": {
        "type": "string",
        "minLength": 1,
        "default": "page",
        "description": "Query parameter carrying the page number (page_number pagination).",
    },
    "records": {
        "type": ["string", "null"],
        "default": None,
        "description": "Key of the array when the body is an object, e.g. `items`.",
    },
    "cursor_field": {
        "type": ["string", "null"],
        "default": "updated_at",
        "description": "Record field the run resumes from (null: read everything each run).",
    },
    "since_param": {
        "type": "string",
        "minLength": 1,
        "default": "since",
        "description": "Query parameter that asks for records at or after the cursor.",
    },
    "start": {
        "type": ["string", "null"],
        "default": None,
        "description": "Cursor value of the very first run (e.g. 2026-01-01T00:00:00Z).",
    },
    "token": {
        "type": ["string", "null"],
        "default": None,
        "pattern": _SECRET_REF.pattern,
        "examples": ["secret://API_TOKEN"],
        "description": "A secret reference sent as `Authorization: Bearer …`.",
    },
    "stream": {
        "type": ["string", "null"],
        "default": None,
        "description": "Stream name (default: the URL's last path segment).",
    },
    "primary_key": {
        "type": "array",
        "items": {"type": "string"},
        "default": ["id"],
        "description": "Fields identifying a record.",
    },
}

SPEC: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "rest_jsonl",
    "description": "A paginated JSON REST API, read incrementally (a WebAssembly connector).",
    "type": "object",
    "properties": _PROPERTIES,
    "required": ["url"],
    "additionalProperties": False,
}
"""The JSON Schema of the options (what `spec()` returns)."""


class OptionError(ValueError):
    """An option the connector cannot use; the message starts with its name."""

    def __init__(self, name: str, problem: str) -> None:
        super().__init__(f"option {name!r}: {problem}")


@dataclass(frozen=True)
class Options:
    """Every option with its value or default (see `_PROPERTIES` for their meaning)."""

    url: str
    params: dict[str, Any]
    pagination: str
    per_page: int
    per_page_param: str
    page_param: str
    records: str | None
    cursor_field: str | None
    since_param: str
    start: str | None
    token: str | None
    stream: str
    primary_key: list[str]


_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "null": (type(None),),
    "object": (dict,),
    "array": (list,),
}


def _type_ok(value: Any, kind: str) -> bool:
    # JSON has no booleans among its numbers; Python's bool is an int.
    if isinstance(value, bool) and kind in ("integer", "number"):
        return False
    return isinstance(value, _TYPES[kind])


def _check(name: str, value: Any, schema: dict[str, Any]) -> None:
    """Enough of JSON Schema for the table above: type, enum, bounds, pattern, items."""
    kinds = schema.get("type")
    if kinds is not None:
        allowed = kinds if isinstance(kinds, list) else [kinds]
        if not any(_type_ok(value, kind) for kind in allowed):
            raise OptionError(name, f"expected {' or '.join(allowed)}, got {value!r}")
    if "enum" in schema and value not in schema["enum"]:
        raise OptionError(name, f"must be one of {', '.join(schema['enum'])}, got {value!r}")
    if isinstance(value, int) and not isinstance(value, bool):
        low, high = schema.get("minimum", value), schema.get("maximum", value)
        if not low <= value <= high:
            raise OptionError(name, f"must be between {low} and {high}, got {value}")
    if isinstance(value, str) and len(value) < schema.get("minLength", 0):
        raise OptionError(name, "must not be empty")
    if (
        isinstance(value, str)
        and "pattern" in schema
        and not re.fullmatch(schema["pattern"], value)
    ):
        # Never echo the value: it may be the very secret that belongs in the environment.
        example = schema.get("examples", ["a value matching " + schema["pattern"]])[0]
        raise OptionError(name, f"must look like {example!r}")
    if isinstance(value, list) and "items" in schema:
        for index, item in enumerate(value):
            _check(f"{name}[{index}]", item, schema["items"])
    if isinstance(value, dict) and "additionalProperties" in schema:
        for key, item in value.items():
            _check(f"{name}.{key}", item, schema["additionalProperties"])


def _stream_name(url: str) -> str:
    segments = [s for s in urlsplit(url).path.split("/") if s]
    name = re.sub(r"[^a-z0-9_]+", "_", segments[-1].lower()).strip("_") if segments else ""
    return name or "records"


def parse(text: str) -> Options:
    """Validate the options JSON the host passes to every call."""
    try:
        raw = json.loads(text)
    except ValueError as exc:
        raise OptionError("(options)", f"not JSON: {exc}") from None
    if not isinstance(raw, dict):
        raise OptionError("(options)", "expected a table of options")
    for name in raw:
        if name not in _PROPERTIES:
            known = ", ".join(_PROPERTIES)
            raise OptionError(name, f"unknown option (known: {known})")
    if "url" not in raw:
        raise OptionError("url", "required: the endpoint to read, e.g. https://api.example.com/x")
    values: dict[str, Any] = {}
    for name, schema in _PROPERTIES.items():
        value = raw[name] if name in raw else copy.deepcopy(schema.get("default"))
        _check(name, value, schema)
        values[name] = value
    parts = urlsplit(values["url"])
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise OptionError("url", f"must be an absolute http(s) URL, got {values['url']!r}")
    stream = values["stream"] or _stream_name(values["url"])
    return Options(**{**values, "stream": stream})
