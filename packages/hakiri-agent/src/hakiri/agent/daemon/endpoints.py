"""The JSON endpoints of the HTTP API: one table that both serves and documents them.

Each ``Endpoint`` names its method, path, inputs (pydantic models) and a synchronous handler
that returns ``(status, body)``. ``route`` wraps a handler with validation, a worker thread
(catalog, DuckDB and sources block) and the error mapping; ``openapi.py`` reads the same
table, so what is documented is what is served.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import anyio.to_thread
from anyio import CapacityLimiter
from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from hakiri.agent import ops
from hakiri.agent.daemon import models
from hakiri.agent.daemon.body import BadBody, parse_json
from hakiri.agent.daemon.errors import error_response, hakiri_error_response
from hakiri.agent.daemon.state import Daemon
from hakiri.core.errors import HakiriError, UnknownRun

__all__ = ["ENDPOINTS", "Endpoint", "route"]

log = logging.getLogger(__name__)

Handler = Callable[[Daemon, dict[str, str], Any, Any], tuple[int, Any]]


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    operation_id: str
    summary: str
    description: str
    handler: Handler
    tag: str
    params: type[BaseModel] = models.NoParams
    body: type[BaseModel] | None = None
    ok_status: int = 200
    errors: tuple[int, ...] = ()
    response: dict[str, Any] = field(default_factory=lambda: {"type": "object"})


def route(endpoint: Endpoint, daemon: Daemon, *, limiter: CapacityLimiter | None = None) -> Route:
    """The route serving ``endpoint``; its handler runs on a thread of ``limiter`` (anyio's
    default pool when None)."""

    async def serve(request: Request) -> Response:
        try:
            params = endpoint.params.model_validate(dict(request.query_params))
            body = None
            if endpoint.method != "GET":
                # The guard has read the body already, within its size cap and deadline.
                body = _body(endpoint, await request.body())
        except (ValidationError, BadBody) as err:
            return _invalid(err)
        path = dict(request.path_params)
        try:
            status, payload = await anyio.to_thread.run_sync(
                endpoint.handler, daemon, path, params, body, limiter=limiter
            )
        except HakiriError as err:
            return hakiri_error_response(err)
        except Exception:
            log.exception("%s %s failed", endpoint.method, request.url.path)
            return error_response(
                "internal_error", "the daemon hit a bug answering this request; see its log"
            )
        return JSONResponse(payload, status_code=status)

    return Route(endpoint.path, serve, methods=[endpoint.method], name=endpoint.operation_id)


def _body(endpoint: Endpoint, raw: bytes) -> Any:
    """The validated body; an endpoint that takes none accepts nothing or an object (ignored)."""
    if not raw:
        if endpoint.body is not None:
            raise _WrongBody(f"this request needs a JSON body ({endpoint.body.__name__})")
        return None
    value = parse_json(raw)
    if endpoint.body is not None:
        return endpoint.body.model_validate(value)
    if not isinstance(value, dict):
        raise _WrongBody("the request body, if any, must be a JSON object (it is ignored)")
    return None


class _WrongBody(BadBody):
    """A body that is JSON but not the one the endpoint takes (422, not 400)."""


def _invalid(err: ValidationError | BadBody) -> JSONResponse:
    hint = "see /openapi.json for the accepted input"
    if isinstance(err, _WrongBody):
        return error_response("invalid_request", str(err), hint=hint, status=422)
    if isinstance(err, BadBody):
        return error_response("invalid_json", str(err), hint="send one JSON object", status=400)
    first = err.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "request"
    message = f"{where}: {first['msg']}"
    if err.error_count() > 1:
        message += f" (and {err.error_count() - 1} more)"
    return error_response("invalid_request", message, hint=hint, status=422)


# -- handlers ------------------------------------------------------------------------------


def _pipelines(daemon: Daemon, path: dict[str, str], _p: Any, _b: Any) -> tuple[int, Any]:
    from hakiri.runtime.inspect import list_pipelines

    return 200, {"pipelines": list_pipelines(ops.load(daemon.root))}


def _pipeline(
    daemon: Daemon, path: dict[str, str], params: models.DescribeParams, _b: Any
) -> tuple[int, Any]:
    from hakiri.runtime.inspect import describe_pipeline

    return 200, describe_pipeline(ops.load(daemon.root), path["name"], runs=params.runs)


def _run_now(daemon: Daemon, path: dict[str, str], _p: Any, _b: Any) -> tuple[int, Any]:
    live = daemon.runs.start(path["name"], trigger="api")
    return 202, {
        "run_id": live.run_id,
        "pipeline": live.pipeline,
        "status": "starting",
        "run": f"/v1/runs/{live.run_id}",
        "events": f"/v1/runs/{live.run_id}/events",
    }


def _runs(daemon: Daemon, _path: Any, params: models.RunsParams, _b: Any) -> tuple[int, Any]:
    return 200, ops.run_tail(daemon.root, params.pipeline, limit=params.limit)


def _run(daemon: Daemon, path: dict[str, str], _p: Any, _b: Any) -> tuple[int, Any]:
    run_id = path["run_id"]
    live = daemon.runs.get(run_id)
    try:
        trace = ops.run_trace(daemon.root, run_id)
    except UnknownRun:
        if live is None:
            raise
        # Started here, but the source has not answered yet (or could not be reached):
        # the catalog has no record of it (yet).
        summary = live.summary or {"status": "starting"}
        trace = {"run": {"run_id": run_id, "pipeline": live.pipeline, **summary}, "steps": []}
    if live is not None and not live.done and live.events:
        trace["progress"] = live.events[-1]["data"]
    return 200, trace


def _query(daemon: Daemon, _path: Any, _p: Any, body: models.QueryBody) -> tuple[int, Any]:
    return 200, ops.context_query(daemon.queries, body.sql, limit=body.limit, timeout=body.timeout)


def _tables(daemon: Daemon, _path: Any, _p: Any, _b: Any) -> tuple[int, Any]:
    return 200, ops.context_tables(daemon.root)


def _schema(daemon: Daemon, path: dict[str, str], _p: Any, _b: Any) -> tuple[int, Any]:
    from hakiri.context.store import open_store

    with open_store(daemon.root) as store:
        return 200, store.schema(path["name"]).to_dict()


def _plan(daemon: Daemon, path: dict[str, str], _p: Any, _b: Any) -> tuple[int, Any]:
    from hakiri.runtime.steps import plan_steps

    return 200, plan_steps(ops.load(daemon.root), path["name"])


def _pull(
    daemon: Daemon, path: dict[str, str], params: models.PullParams, _b: Any
) -> tuple[int, Any]:
    from hakiri.runtime.steps import pull_step

    project = ops.load(daemon.root)
    return 200, pull_step(project, path["name"], params.page, run_id=params.run)


def _commit(
    daemon: Daemon, path: dict[str, str], params: models.CommitParams, _b: Any
) -> tuple[int, Any]:
    from hakiri.runtime.steps import commit_step

    return 200, commit_step(ops.load(daemon.root), path["name"], run_id=params.run)


_STEP_NOTE = (
    " One step of a run driven from outside (a cloud workflow): plan, then pull every page, "
    "then commit. Each step is idempotent and keeps its state in the catalog, so a retried "
    "or resumed workflow re-runs only what is missing."
)

ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint(
        "GET", "/v1/pipelines", "listPipelines", "List pipelines",
        "Every pipeline of the manifest: source connector, table, write disposition, "
        "schedule and last run.",
        _pipelines, "pipelines", errors=(400,),
    ),
    Endpoint(
        "GET", "/v1/pipelines/{name}", "describePipeline", "Describe a pipeline",
        "One pipeline: its spec, cursor position, table, schema events and recent runs.",
        _pipeline, "pipelines", params=models.DescribeParams, errors=(400, 404, 422),
    ),
    Endpoint(
        "POST", "/v1/pipelines/{name}/runs", "runPipeline", "Run a pipeline now",
        "Start a run at once and answer with its run_id (202); follow it at "
        "/v1/runs/{run_id}/events. 409 pipeline_busy if it is already running.",
        _run_now, "runs", ok_status=202, errors=(400, 404, 409),
    ),
    Endpoint(
        "GET", "/v1/runs", "listRuns", "Latest runs",
        "The latest runs, newest first, of one pipeline or all.",
        _runs, "runs", params=models.RunsParams, errors=(400, 404, 422),
    ),
    Endpoint(
        "GET", "/v1/runs/{run_id}", "getRun", "One run",
        "A run's record (status, rows, pages, files, error) and its steps; a run in "
        "flight also shows its progress.",
        _run, "runs", errors=(400, 404),
    ),
    Endpoint(
        "POST", "/v1/query", "query", "Query the context store (read-only SQL)",
        "One SELECT or EXPLAIN (DuckDB dialect) over the context tables, run in a query "
        "process that cannot write files. Writes, ATTACH, extensions and reads of files "
        "outside the store are refused; the query is stopped after `timeout` seconds (at "
        "most the project's [query] timeout) or past its memory bound, and the answer is "
        "cut at [query] max_rows / max_answer_bytes (`truncated_by` says which). 413: the "
        "SQL is longer than [query] max_sql_length; 503 (with Retry-After): every query "
        "process is busy and the queue is full.",
        _query, "context", body=models.QueryBody, errors=(400, 404, 413, 422, 503),
    ),
    Endpoint(
        "GET", "/v1/tables", "listTables", "List context tables",
        "The context store's tables: pipeline, write disposition, primary key, schema version.",
        _tables, "context", errors=(400, 404),
    ),
    Endpoint(
        "GET", "/v1/tables/{name}/schema", "tableSchema", "A table's schema",
        "Current columns, primary key, schema policy, schema versions and schema events.",
        _schema, "context", errors=(400, 404),
    ),
    Endpoint(
        "POST", "/v1/pipelines/{name}/plan", "planSteps", "Plan a run (step 1 of 3)",
        "Open a run and list the pages to pull, from the committed cursor." + _STEP_NOTE,
        _plan, "steps", errors=(400, 404, 409, 502),
    ),
    Endpoint(
        "POST", "/v1/pipelines/{name}/pull", "pullStep", "Pull one page (step 2 of 3)",
        "Read one page of the plan (and the pages it reveals) and stage it as Parquet, not "
        "yet visible to queries; answers with pointers to the staged files." + _STEP_NOTE,
        _pull, "steps", params=models.PullParams, errors=(400, 404, 409, 422, 502),
    ),
    Endpoint(
        "POST", "/v1/pipelines/{name}/commit", "commitSteps", "Commit the run (step 3 of 3)",
        "Publish every staged page and advance the cursor in one catalog transaction."
        + _STEP_NOTE,
        _commit, "steps", params=models.CommitParams, errors=(400, 404, 409, 422),
    ),
)  # fmt: skip
