"""The inputs of the HTTP API (query strings and bodies), as pydantic models.

They validate every request and are the source of the parameters and request bodies in the
OpenAPI document, so the document cannot drift from what the server accepts. Unknown query
parameters are refused: a typo (``?limt=5``) is an error, not a silently ignored option.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from hakiri.agent.ops import MAX_LIMIT, MAX_TIMEOUT

__all__ = [
    "CommitParams",
    "DescribeParams",
    "NoParams",
    "PullParams",
    "QueryBody",
    "RunsParams",
]

_NAME = r"^[^\x00-\x1f]{1,200}$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class NoParams(_Strict):
    """No query parameters."""


class DescribeParams(_Strict):
    runs: int = Field(10, ge=0, le=100, description="Recent runs to include.")


class RunsParams(_Strict):
    pipeline: str | None = Field(
        None, pattern=_NAME, description="Only this pipeline's runs (default: every run)."
    )
    limit: int = Field(20, ge=1, le=200, description="How many runs, newest first.")


class PullParams(_Strict):
    page: str = Field(
        pattern=r"^[0-9]{1,4}$", description="A page id from the plan's `pages` (0, 1, …)."
    )
    run: str | None = Field(
        None,
        pattern=_NAME,
        description="The run_id the plan returned (default: the pipeline's open workflow run).",
    )


class CommitParams(_Strict):
    run: str | None = Field(
        None,
        pattern=_NAME,
        description="The run_id the plan returned (default: the pipeline's open workflow run).",
    )


class QueryBody(_Strict):
    sql: str = Field(
        min_length=1,
        max_length=100_000,
        description="One SELECT (or EXPLAIN) in DuckDB SQL over the context tables.",
    )
    limit: int = Field(100, ge=1, le=MAX_LIMIT, description="Return at most this many rows.")
    timeout: float = Field(
        30.0, gt=0, le=MAX_TIMEOUT, description="Cancel the query after this many seconds."
    )
