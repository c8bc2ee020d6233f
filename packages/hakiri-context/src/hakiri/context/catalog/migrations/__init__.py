"""The catalog's schema migrations: Alembic revisions (``versions/``) applied to a SQLAlchemy
connection the catalog adapter passes in, the same on SQLite and Postgres.

- A new catalog is created by the revisions, from the baseline (``0001``) up to the head.
- A catalog at an older revision gets the revisions it lacks, in one transaction with the
  caller's (SQLite and Postgres both run DDL transactionally: an upgrade that fails leaves
  the catalog as it was).
- A catalog written before Alembic (catalog tables, no ``alembic_version``) is first
  brought to the baseline layout by the frozen hand-written upgrade of ``_adopt`` and
  stamped ``0001``; from then on only revisions change it.
- A catalog whose revision this Hakiri does not know was written by a newer Hakiri: it is
  refused with ``CatalogError`` before anything is written. No revision is ever downgraded.

``HEAD`` lets the adapters see that a catalog is current without loading Alembic: a test
checks it is the script directory's head.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from sqlalchemy import Connection, inspect, text

from hakiri.core.errors import CatalogError

__all__ = [
    "BASELINE",
    "HEAD",
    "MigratedCatalog",
    "NewerCatalog",
    "SchemaStatus",
    "schema_status",
    "stored_revision",
    "upgrade_schema",
]

BASELINE = "0001"
"""The revision a catalog written before Alembic is stamped with once adopted."""

HEAD = "0001"
"""The newest revision in ``versions/`` (a new revision updates it)."""

_VERSION_TABLE = "alembic_version"


class NewerCatalog(CatalogError):
    """The catalog is at a schema revision this Hakiri does not know: a newer one wrote it."""


@dataclass(frozen=True, slots=True)
class SchemaStatus:
    """Where a catalog's schema stands against this Hakiri's revisions."""

    current: str | None
    """The catalog's revision; None for an empty database or one written before Alembic."""
    head: str
    pending: tuple[str, ...]
    """The revisions an upgrade would apply, oldest first."""
    before_alembic: bool = False
    """Written by a Hakiri before schema migrations: an upgrade adopts it at ``BASELINE``
    first (``pending`` are the revisions after that)."""

    @property
    def up_to_date(self) -> bool:
        return not self.pending and not self.before_alembic

    def to_dict(self) -> dict[str, Any]:
        return {
            "current": self.current,
            "head": self.head,
            "pending": list(self.pending),
            "before_alembic": self.before_alembic,
            "up_to_date": self.up_to_date,
        }


@runtime_checkable
class MigratedCatalog(Protocol):
    """A catalog adapter whose schema these revisions manage (``hakiri catalog …``)."""

    def schema_status(self) -> SchemaStatus: ...

    def upgrade_schema(self) -> SchemaStatus: ...


def stored_revision(conn: Connection) -> str | None:
    """The one revision the catalog records, without loading Alembic (None: no or several)."""
    if not inspect(conn).has_table(_VERSION_TABLE):
        return None
    rows = conn.execute(text(f"SELECT version_num FROM {_VERSION_TABLE}")).scalars().all()
    return str(rows[0]) if len(rows) == 1 else None


def schema_status(conn: Connection, *, where: str) -> SchemaStatus:
    """The schema of the catalog on ``conn`` (``where`` names it in messages); reads only.

    ``CatalogError`` if the catalog is at a revision this Hakiri does not know.
    """
    from hakiri.context.catalog.migrations import _alembic
    from hakiri.context.catalog.migrations._adopt import FIRST_TABLES

    head = _alembic.head()
    heads = _alembic.current_heads(conn)
    unknown = [revision for revision in heads if not _alembic.is_known(revision)]
    if unknown:
        raise NewerCatalog(
            f"the catalog at {where} is at schema revision {', '.join(unknown)}, newer than "
            f"this Hakiri knows (head {head}): upgrade hakiri",
            hint="Hakiri never downgrades a catalog",
        )
    if len(heads) > 1:
        raise CatalogError(
            f"the catalog at {where} records several schema revisions ({', '.join(heads)}); "
            "Hakiri writes one",
            hint="restore the catalog from a backup",
        )
    if heads:
        return SchemaStatus(heads[0], head, _alembic.pending(heads[0]))
    names = set(inspect(conn).get_table_names())
    if any(name in names for name in FIRST_TABLES):
        return SchemaStatus(None, head, _alembic.pending(BASELINE), before_alembic=True)
    return SchemaStatus(None, head, _alembic.pending(None))


def upgrade_schema(conn: Connection, *, where: str) -> SchemaStatus:
    """Bring the catalog on ``conn`` to the head revision inside the transaction ``conn``
    is in, and return the status it was found in (its ``pending`` are now applied).

    The caller holds what keeps two upgrades apart (SQLite's write lock, an advisory lock
    on Postgres) and commits. A newer catalog is refused before anything is written.
    """
    found = schema_status(conn, where=where)
    if found.up_to_date:
        return found
    from hakiri.context.catalog.migrations import _alembic

    if found.before_alembic:
        from hakiri.context.catalog.migrations._adopt import adopt

        adopt(conn, where=where)
        _alembic.stamp(conn, BASELINE)
    if found.pending:
        _alembic.upgrade(conn)
    return found
