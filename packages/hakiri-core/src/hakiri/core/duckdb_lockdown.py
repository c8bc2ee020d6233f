"""The settings that lock a DuckDB connection down, as plain data (no DuckDB import here).

Every DuckDB connection that runs SQL Hakiri did not write — an agent's query, a manifest's
transform — uses them, so that SQL can compute over the data it is given and do nothing
else: no extension is installed or loaded, no file is read or written (spill files, log
files, ``COPY … TO``, ``ATTACH``), no secret persists, no Python variable becomes a table,
and once the configuration is locked no ``SET`` / ``CALL enable_logging(…)`` can undo any of
it. An unlocked connection is not only a sandbox escape: DuckDB 2.0 aborts the whole process
(SIGABRT) when a ``CALL enable_logging(storage='file', …)`` meets disabled file access.

They live in core because both the query layer (hakiri-context) and transforms
(hakiri-runtime) need the same list, and neither may import the other.

Use::

    con = duckdb.connect(":memory:", config=dict(LOCKED_DOWN_SETTINGS))  # nothing to set up

or, for a connection that must first create views over files::

    con = duckdb.connect(":memory:", config=dict(STARTUP_SETTINGS))
    ...  # create views, SET allowed_paths = [...]
    for statement in LOCK_STATEMENTS:
        con.execute(statement)
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

__all__ = ["LOCKED_DOWN_SETTINGS", "LOCK_STATEMENTS", "STARTUP_SETTINGS"]

STARTUP_SETTINGS: Mapping[str, bool | str] = MappingProxyType(
    {
        "autoinstall_known_extensions": False,
        "autoload_known_extensions": False,
        "allow_community_extensions": False,
        "allow_unsigned_extensions": False,
        "allow_persistent_secrets": False,
        # Python variables are not tables here.
        "python_enable_replacements": False,
        # No spill files: an in-memory database would spill into ./.tmp of whatever
        # directory the process runs in, and that directory would become readable too.
        "temp_directory": "",
    }
)
"""Settings that must hold before anything runs (some DuckDB accepts only at startup)."""

LOCK_STATEMENTS: tuple[str, ...] = (
    "SET enable_external_access = false",
    # Last: nothing can change once it is set, this setting included.
    "SET lock_configuration = true",
)
"""What closes the connection once its setup is done, in this order."""

LOCKED_DOWN_SETTINGS: Mapping[str, bool | str] = MappingProxyType(
    {**STARTUP_SETTINGS, "enable_external_access": False, "lock_configuration": True}
)
"""Everything at once, for a connection that needs no file access even while set up.

Insertion order matters: ``lock_configuration`` comes last."""
