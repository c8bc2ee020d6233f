"""Alembic, run programmatically on a connection Hakiri passes in: no ``env.py``, no
``alembic.ini``. The script directory is this package; its revisions are in ``versions/``.

Importing this module loads Alembic (some 70 ms), so ``migrations`` imports it only when a
catalog is not at the head revision.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from alembic.config import Config
from alembic.runtime.environment import EnvironmentContext
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.script.revision import RevisionError
from sqlalchemy import Connection

__all__ = ["current_heads", "head", "is_known", "pending", "stamp", "upgrade"]

_SCRIPT_LOCATION = Path(__file__).parent


@cache
def _config() -> Config:
    config = Config()
    # The option goes through configparser interpolation: a "%" in the path must be doubled.
    config.set_main_option("script_location", str(_SCRIPT_LOCATION).replace("%", "%%"))
    return config


@cache
def _script() -> ScriptDirectory:
    return ScriptDirectory.from_config(_config())


def head() -> str:
    """The newest revision this Hakiri knows."""
    revision = _script().get_current_head()
    if revision is None:  # a packaging fault: the wheel lost versions/
        raise RuntimeError(f"no catalog schema revisions in {_SCRIPT_LOCATION / 'versions'}")
    return revision


def is_known(revision: str) -> bool:
    try:
        return _script().revision_map.get_revision(revision) is not None
    except RevisionError:
        return False


def current_heads(conn: Connection) -> tuple[str, ...]:
    """The revisions recorded in the catalog's ``alembic_version`` table (none: no table)."""
    return MigrationContext.configure(conn).get_current_heads()


def pending(current: str | None) -> tuple[str, ...]:
    """The revisions an upgrade from ``current`` (None: an empty database) applies, oldest
    first."""
    newest_first = _script().iterate_revisions("heads", current or "base")
    return tuple(reversed([script.revision for script in newest_first]))


def stamp(conn: Connection, revision: str) -> None:
    """Record ``revision`` as the catalog's without running it."""
    MigrationContext.configure(conn).stamp(_script(), revision)


def upgrade(conn: Connection) -> None:
    """Apply every pending revision on ``conn``, inside the transaction it is in.

    ``render_as_batch``: SQLite alters a table by copying it (``op.batch_alter_table``),
    which a revision that changes a column must use to run on both backends.
    """
    script = _script()

    def to_head(revision: Any, _context: MigrationContext) -> Any:
        # What `alembic upgrade head` hands its env.py.
        return script._upgrade_revs("heads", revision)

    with EnvironmentContext(_config(), script, fn=to_head) as environment:
        environment.configure(connection=conn, render_as_batch=True)
        with environment.begin_transaction():
            environment.run_migrations()
