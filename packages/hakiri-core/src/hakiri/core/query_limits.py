"""The bounds on one query: the manifest's ``[query]`` table, and what a call may narrow.

Every surface that runs SQL someone else wrote — ``hakiri query``, MCP's ``context.query``,
``POST /v1/query`` — runs it under these bounds (docs/query-safety.md). The defaults are safe
for a laptop; a project raises or lowers them in ``hakiri.toml``::

    [query]
    timeout = 30              # seconds; the query is stopped within ~1 s of it
    memory = "1GiB"           # the whole query process, not only DuckDB's buffers
    max_rows = 1000
    max_answer_bytes = "16MiB"
    max_sql_length = 100000   # characters, refused before parsing
"""

from __future__ import annotations

from pydantic import BaseModel, ByteSize, ConfigDict, Field, field_validator

__all__ = ["QueryLimits"]

_MiB = 1 << 20


class QueryLimits(BaseModel):
    """How long, how big and how much one query may be."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    timeout: float = Field(
        default=30.0,
        gt=0,
        le=86_400,
        description="Seconds a query may run; it is stopped within about a second of it, "
        "whatever it computes.",
    )
    memory: ByteSize = Field(
        default=ByteSize(1 << 30),
        description="The most memory (resident set) the process running one query may use: "
        "DuckDB gets half of it as its memory_limit, the kernel enforces the rest.",
    )
    max_rows: int = Field(default=1000, ge=1, description="Rows an answer holds at most.")
    max_answer_bytes: ByteSize = Field(
        default=ByteSize(16 * _MiB),
        description="Bytes (as Arrow data) an answer holds at most; the rest is cut off "
        "and the answer says it was truncated.",
    )
    max_sql_length: int = Field(
        default=100_000,
        ge=16,
        description="Characters of SQL accepted; longer text is refused before parsing.",
    )
    threads: int = Field(default=2, ge=1, le=64, description="DuckDB threads per query.")
    workers: int = Field(
        default=2,
        ge=1,
        le=64,
        description="Query processes a long-running server (hakiri serve, hakiri mcp) keeps.",
    )
    queue: int = Field(
        default=16,
        ge=0,
        description="Queries that may wait for a free query process; more are refused as "
        "busy (HTTP 503 with Retry-After).",
    )

    @field_validator("memory")
    @classmethod
    def _enough_memory(cls, value: ByteSize) -> ByteSize:
        if value < 128 * _MiB:
            raise ValueError("must be at least 128MiB (DuckDB and Arrow alone take ~100 MiB)")
        return value

    @field_validator("max_answer_bytes")
    @classmethod
    def _some_bytes(cls, value: ByteSize) -> ByteSize:
        if value < 1024:
            raise ValueError("must be at least 1KiB")
        return value

    def narrowed(
        self,
        *,
        timeout: float | None = None,
        max_rows: int | None = None,
        max_answer_bytes: int | None = None,
    ) -> QueryLimits:
        """These limits with a call's own, which may only be tighter (an agent's call)."""
        update: dict[str, float | int] = {}
        if timeout is not None:
            update["timeout"] = min(timeout, self.timeout)
        if max_rows is not None:
            update["max_rows"] = min(max_rows, self.max_rows)
        if max_answer_bytes is not None:
            update["max_answer_bytes"] = min(max_answer_bytes, int(self.max_answer_bytes))
        return self.model_copy(update=update)
