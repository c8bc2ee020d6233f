"""SQL transforms: DuckDB over each batch, exposed to the SQL as the relation ``batch``.

A transform's connection is locked down like a query's (``hakiri.core.duckdb_lockdown``):
no file access, no extensions, a bounded memory and thread count, the configuration frozen.
Its SQL must be one SELECT, decided by DuckDB's own parser when the transform is created,
so a run refuses a ``CALL`` / ``SET`` / ``COPY`` / ``ATTACH`` / second statement before it
reads anything. A transform that fails on a batch raises ``TransformError``: the run fails
with one line, the process goes on.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hakiri.core.duckdb_lockdown import LOCKED_DOWN_SETTINGS
from hakiri.core.errors import MissingDependency, TransformError, TransformRefused
from hakiri.core.manifest import PipelineSpec, TransformSpec

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["TRANSFORM_MEMORY_LIMIT", "TRANSFORM_THREADS", "SqlTransform", "pipeline_transforms"]

TRANSFORM_MEMORY_LIMIT = "1GB"
"""DuckDB's own working memory per transform (the batch itself is Arrow, outside it)."""
TRANSFORM_THREADS = 2


class SqlTransform:
    """Runs one SELECT over the batch in a private, in-memory, locked-down DuckDB connection.

    ``label`` names the transform in errors (e.g. ``pipeline 'issues', transform 1``).
    Raises ``TransformRefused`` when the SQL is not exactly one SELECT.
    """

    def __init__(self, spec: TransformSpec, *, label: str = "transform") -> None:
        try:
            import duckdb
        except ImportError:
            raise MissingDependency(
                "SQL transforms need DuckDB, which is not installed",
                hint="install it with: pip install 'hakiri-context[duckdb]'",
            ) from None
        self._sql = spec.sql
        self._label = label
        # Unknown settings first, the lock last: nothing set after it would take.
        settings: dict[str, Any] = {
            "memory_limit": TRANSFORM_MEMORY_LIMIT,
            "threads": TRANSFORM_THREADS,
            **LOCKED_DOWN_SETTINGS,
        }
        self._con: Any = duckdb.connect(":memory:", config=settings)
        try:
            _admit_select(self._con, spec.sql, label)
        except BaseException:
            self._con.close()
            raise

    def apply(self, data: pa.Table) -> pa.Table:
        self._con.register("batch", data)
        try:
            result: pa.Table = self._con.sql(self._sql).to_arrow_table()
        except Exception as exc:
            raise TransformError(
                f"{self._label} failed: {_first_line(exc)}", hint=f"SQL: {self._sql}"
            ) from exc
        finally:
            self._con.unregister("batch")
        return result

    def close(self) -> None:
        self._con.close()


def pipeline_transforms(spec: PipelineSpec) -> list[SqlTransform]:
    """The transforms of a pipeline, in order; none is left open if one is refused."""
    transforms: list[SqlTransform] = []
    try:
        for number, transform in enumerate(spec.transforms, start=1):
            label = f"pipeline {spec.name!r}, transform {number}"
            transforms.append(SqlTransform(transform, label=label))
    except BaseException:
        for made in transforms:
            made.close()
        raise
    return transforms


def _admit_select(con: Any, sql: str, label: str) -> None:
    """Refuse anything but exactly one SELECT, as DuckDB's parser reads ``sql``."""
    import duckdb

    hint = "a transform is one SELECT over the relation `batch`, e.g. SELECT id, title FROM batch"
    try:
        statements = con.extract_statements(sql)
    except duckdb.Error as exc:
        raise TransformRefused(
            f"{label}: SQL does not parse: {_first_line(exc)}", hint=hint
        ) from None
    if len(statements) != 1:
        raise TransformRefused(
            f"{label} holds {len(statements)} statements, not one SELECT", hint=hint
        )
    kind = statements[0].type
    if kind != duckdb.StatementType.SELECT:
        raise TransformRefused(
            f"{label} is not a SELECT (DuckDB reads it as {kind.name})", hint=hint
        )


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__
