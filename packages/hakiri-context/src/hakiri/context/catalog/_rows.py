"""Catalog rows as records: one function a table, over a row's mapping of column names.

Shared by ``SqlCatalog``'s reads and the commit's one combined read (``_sql_commit``), which
hands each function the part of its wide row that belongs to one table (``part``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hakiri.context.catalog._fencing import Fence
from hakiri.core.records import (
    FileRecord,
    RunRecord,
    RunStatus,
    SchemaPolicy,
    SchemaVersion,
    TableRecord,
    WriteDisposition,
)
from hakiri.core.schema import Schema

__all__ = [
    "fence_record",
    "file_record",
    "part",
    "run_record",
    "schema_version_record",
    "table_record",
]

# A row's mapping (SQLAlchemy types its keys loosely) or the part of one ``part`` cut out.
_Values = Mapping[Any, Any]


def part(row: Mapping[str, Any], prefix: str) -> dict[str, Any]:
    """The columns of ``row`` labelled ``prefix`` + name, by name."""
    return {key[len(prefix) :]: value for key, value in row.items() if key.startswith(prefix)}


def run_record(row: _Values) -> RunRecord:
    return RunRecord(
        run_id=row["run_id"],
        pipeline=row["pipeline"],
        status=RunStatus(row["status"]),
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        trigger=row["trigger"],
        pid=row["pid"],
        host=row["host"],
        rows=int(row["rows"]),
        pages=int(row["pages"]),
        files=int(row["files"]),
        error_code=row["error_code"],
        error_message=row["error_message"],
        resumed_from=row["resumed_from"],
    )


def table_record(row: _Values) -> TableRecord:
    return TableRecord(
        name=row["name"],
        pipeline=row["pipeline"],
        write=WriteDisposition(row["write"]),
        generation=int(row["generation"]),
        schema_version=int(row["schema_version"]),
        primary_key=tuple(row["primary_key"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        schema_policy=SchemaPolicy(row["schema_policy"]),
    )


def file_record(row: _Values) -> FileRecord:
    return FileRecord(
        table=row["table_name"],
        path=row["path"],
        rows=int(row["rows"]),
        bytes=int(row["bytes"]),
        checksum=row["checksum"],
        schema_version=int(row["schema_version"]),
        generation=int(row["generation"]),
        run_id=row["run_id"],
        committed_at=row["committed_at"],
    )


def schema_version_record(row: _Values) -> SchemaVersion:
    return SchemaVersion(
        table=row["table_name"],
        version=int(row["version"]),
        schema=Schema.from_dict(row["schema"]),
        run_id=row["run_id"],
        created_at=row["created_at"],
    )


def fence_record(row: _Values) -> Fence:
    return Fence(
        pipeline=row["pipeline"],
        shard=row["shard"] or None,
        token=int(row["token"]),
        holder=row["holder"],
        expires_at=row["expires_at"],
    )
