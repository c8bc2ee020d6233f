"""SQL transforms: DuckDB over each batch, exposed to the SQL as the relation ``batch``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hakiri.core.errors import ConfigError, MissingDependency
from hakiri.core.manifest import TransformSpec

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["SqlTransform"]


class SqlTransform:
    """Runs one SELECT over the batch in a private, in-memory DuckDB connection."""

    def __init__(self, spec: TransformSpec) -> None:
        try:
            import duckdb
        except ImportError:
            raise MissingDependency(
                "SQL transforms need DuckDB, which is not installed",
                hint="install it with: pip install 'hakiri-context[duckdb]'",
            ) from None
        self._sql = spec.sql
        self._con: Any = duckdb.connect(":memory:")
        self._con.execute("SET enable_external_access = false")

    def apply(self, data: pa.Table) -> pa.Table:
        self._con.register("batch", data)
        try:
            result: pa.Table = self._con.sql(self._sql).to_arrow_table()
        except Exception as exc:
            first = str(exc).splitlines()[0]
            raise ConfigError(f"transform failed: {first}", hint=f"SQL: {self._sql}") from exc
        finally:
            self._con.unregister("batch")
        return result

    def close(self) -> None:
        self._con.close()
