"""The OpenAPI 3.1 document of the HTTP API, built from the endpoint table and its models."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from pydantic import BaseModel

from hakiri.agent.daemon.endpoints import ENDPOINTS, Endpoint

__all__ = ["openapi_document"]

_REF = "#/components/schemas/{model}"

_ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string", "description": "Stable, e.g. pipeline_busy."},
                "message": {"type": "string"},
                "hint": {"type": "string", "description": "What to do about it."},
            },
        }
    },
}

# OpenAPI 3.1 has no `itemSchema` (3.2 added it): tools (schemathesis) read the `schema` of a
# text/event-stream as the schema of each event, not of the whole stream.
_EVENT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["event", "data"],
    "properties": {
        "id": {"type": "string", "description": "Send it back as Last-Event-ID to resume."},
        "event": {"type": "string", "enum": ["status", "progress", "end"]},
        "data": {
            "type": "string",
            "contentMediaType": "application/json",
            "description": "A JSON object; for `end`, the run summary.",
        },
    },
}

_REASONS = {
    400: "Bad input (the error says which)",
    401: "Missing or wrong bearer token",
    403: "Refused: a web page of another origin (or a Host that is not the loopback)",
    404: "No such pipeline, run, table or page (or no context store yet)",
    409: "Not now: the pipeline is running, or the run is not open",
    408: "The request body did not arrive in time",
    413: "The request body is too large",
    415: "The request is not application/json",
    422: "The request does not match this document",
    502: "The pipeline's source failed",
}


def openapi_document(version: str, *, token: bool) -> dict[str, Any]:
    schemas: dict[str, Any] = {"Error": _ERROR_SCHEMA}
    paths: dict[str, dict[str, Any]] = {
        "/healthz": {
            "get": {
                "operationId": "health",
                "summary": "Liveness and scheduler status",
                "tags": ["daemon"],
                "security": [],
                "responses": {"200": _json_response("The daemon is up", {"type": "object"})},
            }
        }
    }
    for endpoint in ENDPOINTS:
        paths.setdefault(endpoint.path, {})[endpoint.method.lower()] = _operation(
            endpoint, schemas, token=token
        )
    paths["/v1/runs/{run_id}/events"] = {
        "get": {
            "operationId": "runEvents",
            "summary": "Follow a run (server-sent events)",
            "description": (
                "A text/event-stream of `status`, `progress` (pages, rows) and a final `end` "
                "event holding the run summary; the stream closes after `end`. Send "
                "Last-Event-ID to resume."
            ),
            "tags": ["runs"],
            "parameters": [_path_param("run_id")],
            "responses": {
                "200": {
                    "description": "The event stream",
                    "content": {"text/event-stream": {"schema": _EVENT_SCHEMA}},
                },
                **_errors((403, 404), token=token),
            },
        }
    }
    document: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {
            "title": "Hakiri daemon API",
            "version": version,
            "description": (
                "Pipelines, runs and the context store of one Hakiri project. MCP over "
                "streamable HTTP is served at /mcp (not described here)."
            ),
        },
        "paths": paths,
        "components": {"schemas": schemas},
    }
    if token:
        document["components"]["securitySchemes"] = {"bearer": {"type": "http", "scheme": "bearer"}}
        document["security"] = [{"bearer": []}]
    return document


def _operation(endpoint: Endpoint, schemas: dict[str, Any], *, token: bool) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "operationId": endpoint.operation_id,
        "summary": endpoint.summary,
        "description": endpoint.description,
        "tags": [endpoint.tag],
    }
    parameters = [_path_param(name) for name in _path_names(endpoint.path)]
    parameters += _query_params(endpoint.params)
    if parameters:
        operation["parameters"] = parameters
    statuses = (*endpoint.errors, 403)
    if endpoint.body is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": _model_ref(endpoint.body, schemas)}},
        }
    elif endpoint.method != "GET":
        # Still application/json, so that a web page cannot send it without a preflight.
        operation["requestBody"] = {
            "required": False,
            "description": "Nothing to send: an empty body or {} (members are ignored).",
            "content": {"application/json": {"schema": {"type": "object"}}},
        }
    if endpoint.method != "GET":
        statuses += (400, 408, 413, 415, 422)
    operation["responses"] = {
        str(endpoint.ok_status): _json_response("OK", endpoint.response),
        **_errors(statuses, token=token),
    }
    return operation


def _errors(statuses: tuple[int, ...], *, token: bool) -> dict[str, Any]:
    codes = set(statuses) | ({401} if token else set())
    ref = {"$ref": "#/components/schemas/Error"}
    return {
        str(code): _json_response(_REASONS.get(code) or HTTPStatus(code).phrase, ref)
        for code in sorted(codes)
    }


def _json_response(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _path_names(path: str) -> list[str]:
    return [part[1:-1] for part in path.split("/") if part.startswith("{")]


def _path_param(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "schema": {"type": "string", "pattern": r"^[^/\x00-\x1f]{1,200}$"},
    }


def _query_params(model: type[BaseModel]) -> list[dict[str, Any]]:
    schema = model.model_json_schema()
    required = set(schema.get("required", []))
    params = []
    for name, prop in schema.get("properties", {}).items():
        params.append(
            {
                "name": name,
                "in": "query",
                "required": name in required,
                "description": prop.get("description", ""),
                "schema": _not_null(prop),
            }
        )
    return params


def _not_null(prop: dict[str, Any]) -> dict[str, Any]:
    """A query string cannot say null: an optional parameter is simply left out."""
    branches = prop.get("anyOf")
    if branches:
        kept = [b for b in branches if b.get("type") != "null"]
        if len(kept) == 1:
            prop = {**{k: v for k, v in prop.items() if k != "anyOf"}, **kept[0]}
    return {k: v for k, v in prop.items() if k not in ("title", "description", "default")}


def _model_ref(model: type[BaseModel], schemas: dict[str, Any]) -> dict[str, Any]:
    schema = model.model_json_schema(ref_template=_REF)
    schemas.update(schema.pop("$defs", {}))
    schemas[model.__name__] = schema
    return {"$ref": _REF.format(model=model.__name__)}
