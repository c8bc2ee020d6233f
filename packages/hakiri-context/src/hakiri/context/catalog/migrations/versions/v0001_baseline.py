"""Baseline: the catalog as Hakiri wrote it when its schema came under Alembic.

Every table, column, key and index is written out here rather than taken from
``_schema.metadata``, so this revision creates the same tables however the metadata
changes later; a change there comes with a revision of its own
(test_catalog_migrations.py fails until it does). A catalog written before Alembic is
brought to this layout by ``migrations._adopt`` and stamped with this revision instead.

Revision ID: 0001
Revises: (none)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from hakiri.context.catalog.migrations._types import ID, JSON_TEXT, UTC_DATETIME

revision = "0001"
down_revision: str | None = None
branch_labels: tuple[str, ...] | None = None
depends_on: tuple[str, ...] | None = None


def upgrade() -> None:
    op.create_table(
        "cursors",
        sa.Column("pipeline", sa.String(128), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("value", JSON_TEXT, nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", UTC_DATETIME, nullable=False),
        sa.PrimaryKeyConstraint("pipeline"),
    )
    op.create_table(
        "runs",
        sa.Column("run_id", sa.String(128), nullable=False),
        sa.Column("pipeline", sa.String(128), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("started_at", UTC_DATETIME, nullable=False),
        sa.Column("finished_at", UTC_DATETIME, nullable=True),
        sa.Column("trigger", sa.String(64), nullable=False),
        sa.Column("pid", sa.BigInteger(), nullable=True),
        sa.Column("host", sa.String(255), nullable=True),
        sa.Column("rows", sa.BigInteger(), nullable=False),
        sa.Column("pages", sa.BigInteger(), nullable=False),
        sa.Column("files", sa.BigInteger(), nullable=False),
        sa.Column("error_code", sa.String(64), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("resumed_from", sa.String(128), nullable=True),
        sa.PrimaryKeyConstraint("run_id"),
    )
    op.create_index("ix_runs_pipeline_started_at", "runs", ["pipeline", "started_at"])
    op.create_table(
        "tables",
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("pipeline", sa.String(128), nullable=False),
        sa.Column("write", sa.String(16), nullable=False),
        sa.Column("generation", sa.BigInteger(), nullable=False),
        sa.Column("schema_version", sa.Integer(), nullable=False),
        sa.Column("primary_key", JSON_TEXT, nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("updated_at", UTC_DATETIME, nullable=False),
        sa.Column("schema_policy", sa.String(16), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "events",
        sa.Column("id", ID, nullable=False, autoincrement=True),
        sa.Column("table_name", sa.String(128), nullable=True),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("payload", JSON_TEXT, nullable=False),
        sa.Column("run_id", sa.String(128), nullable=True),
        sa.Column("at", UTC_DATETIME, nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_events_table_name", "events", ["table_name", "id"])
    op.create_table(
        "fences",
        sa.Column("pipeline", sa.String(128), nullable=False),
        sa.Column("shard", sa.String(255), nullable=False),
        sa.Column("token", sa.BigInteger(), nullable=False),
        sa.Column("holder", sa.String(255), nullable=False),
        sa.Column("expires_at", UTC_DATETIME, nullable=False),
        sa.Column("updated_at", UTC_DATETIME, nullable=False),
        sa.PrimaryKeyConstraint("pipeline", "shard"),
    )
    op.create_table(
        "run_steps",
        sa.Column("run_id", sa.String(128), nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("payload", JSON_TEXT, nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.PrimaryKeyConstraint("run_id", "key"),
        sa.ForeignKeyConstraint(["run_id"], ["runs.run_id"]),
    )
    op.create_table(
        "files",
        sa.Column("id", ID, nullable=False, autoincrement=True),
        sa.Column("table_name", sa.String(128), nullable=False),
        sa.Column("path", sa.String(1024), nullable=False),
        sa.Column("rows", sa.BigInteger(), nullable=False),
        sa.Column("bytes", sa.BigInteger(), nullable=False),
        sa.Column("checksum", sa.String(80), nullable=False),
        sa.Column("schema_version", sa.Integer(), nullable=False),
        sa.Column("generation", sa.BigInteger(), nullable=False),
        sa.Column("run_id", sa.String(128), nullable=False),
        sa.Column("committed_at", UTC_DATETIME, nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("path", name="uq_files_path"),
        sa.ForeignKeyConstraint(["table_name"], ["tables.name"]),
        sa.ForeignKeyConstraint(["run_id"], ["runs.run_id"]),
    )
    op.create_index("ix_files_table_generation", "files", ["table_name", "generation"])
    op.create_table(
        "schema_versions",
        sa.Column("table_name", sa.String(128), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("schema", JSON_TEXT, nullable=False),
        sa.Column("run_id", sa.String(128), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.PrimaryKeyConstraint("table_name", "version"),
        sa.ForeignKeyConstraint(["table_name"], ["tables.name"]),
    )


def downgrade() -> None:
    # Hakiri only ever upgrades a catalog (docs/catalog.md, "Schema migrations").
    raise NotImplementedError("Hakiri never downgrades a catalog")
