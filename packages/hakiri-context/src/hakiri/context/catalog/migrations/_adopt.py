"""Catalogs written before Alembic: brought to the baseline layout once, then stamped.

Hakiri before schema migrations (up to commit 8442938) created a catalog with
``metadata.create_all`` and upgraded an older one by hand: it added whatever tables and
columns the catalog lacked. Between the first release and the baseline revision the schema
changed twice — ``tables.schema_policy`` (default ``'evolve'``) and the ``fences`` table —
so a catalog without ``alembic_version`` has the first release's tables and may lack those
two. This module adds them with the DDL that hand-written upgrade ran, frozen here (it
must keep producing the baseline however ``_schema`` changes later); the caller then
stamps the baseline revision and only revisions apply from there on.
"""

from __future__ import annotations

from sqlalchemy import Connection, inspect

from hakiri.core.errors import CatalogError

__all__ = ["FIRST_TABLES", "adopt"]

FIRST_TABLES = ("cursors", "runs", "run_steps", "tables", "files", "schema_versions", "events")
"""The tables every catalog Hakiri ever wrote has."""

_ADD_SCHEMA_POLICY = (
    "ALTER TABLE tables ADD COLUMN schema_policy VARCHAR(16) NOT NULL DEFAULT 'evolve'"
)


def _create_fences(dialect: str) -> str:
    stamp = "VARCHAR(32)" if dialect == "sqlite" else "TIMESTAMP WITH TIME ZONE"
    return (
        "CREATE TABLE fences (pipeline VARCHAR(128) NOT NULL, shard VARCHAR(255) NOT NULL, "
        "token BIGINT NOT NULL, holder VARCHAR(255) NOT NULL, "
        f"expires_at {stamp} NOT NULL, updated_at {stamp} NOT NULL, "
        "PRIMARY KEY (pipeline, shard))"
    )


def adopt(conn: Connection, *, where: str) -> None:
    """Bring the pre-Alembic catalog on ``conn`` to the baseline layout, in the caller's
    transaction; ``CatalogError`` if it is not a catalog Hakiri wrote."""
    inspector = inspect(conn)
    names = set(inspector.get_table_names())
    lacking = [name for name in FIRST_TABLES if name not in names]
    if lacking:
        raise CatalogError(
            f"the database at {where} has some of a catalog's tables but not "
            f"{', '.join(lacking)}: it is not a catalog Hakiri wrote",
            hint="point catalog in hakiri.toml at a Hakiri catalog or at a new database",
        )
    if "schema_policy" not in {column["name"] for column in inspector.get_columns("tables")}:
        conn.exec_driver_sql(_ADD_SCHEMA_POLICY)
    if "fences" not in names:
        conn.exec_driver_sql(_create_fences(conn.dialect.name))
