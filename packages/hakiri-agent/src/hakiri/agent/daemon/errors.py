"""How the HTTP API answers an error: a status from the error's code, and one JSON shape.

Every error body is ``{"error": {"code", "message", "hint"?}}`` — the same code and line the
CLI prints — so a client can branch on ``code`` and show ``message`` as it is.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse

from hakiri.core.errors import HakiriError

__all__ = ["error_response", "hakiri_error_response", "status_for"]

_STATUS: dict[str, int] = {
    # The thing named does not exist.
    "unknown_pipeline": 404,
    "unknown_run": 404,
    "unknown_table": 404,
    "unknown_page": 404,
    "store_error": 404,  # no context store yet: nothing has run
    # It exists, but its state does not allow this now.
    "pipeline_busy": 409,
    # Every query process is busy and the queue is full: come back shortly (Retry-After).
    "query_busy": 503,
    "query_too_long": 413,
    "run_not_open": 409,
    "steps_missing": 409,
    "cursor_conflict": 409,
    "lease_lost": 409,
    "schema_rejected": 409,
    "schema_frozen": 409,
    "schema_incompatible": 409,
    # The source answered badly or not at all.
    "source_error": 502,
    "source_unreachable": 502,
    "source_http_error": 502,
    # The daemon's own state is broken (catalog) or lacks a part.
    "catalog_error": 500,
    "missing_dependency": 501,
    "internal_error": 500,
}


def status_for(code: str) -> int:
    """The HTTP status of an error code; any other ``HakiriError`` is bad input (400)."""
    return _STATUS.get(code, 400)


def error_response(
    code: str,
    message: str,
    *,
    hint: str | None = None,
    status: int | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {"code": code, "message": message}
    if hint:
        body["hint"] = hint
    return JSONResponse({"error": body}, status_code=status or status_for(code), headers=headers)


def hakiri_error_response(err: HakiriError) -> JSONResponse:
    retry_after = getattr(err, "retry_after", None)
    return error_response(
        err.code,
        " ".join(err.message.split()),
        hint=err.hint and " ".join(err.hint.split()),
        headers={"Retry-After": str(retry_after)} if retry_after is not None else None,
    )
