"""The column types the catalog's revisions are written in, frozen.

The revisions do not use ``_schema``'s ``UtcDateTime`` / ``JsonText``: a revision states
the DDL it ran once, so it must not change when the live types do. These are what those
types put in the database — fixed-width ISO-8601 text on SQLite, ``timestamptz``
elsewhere; JSON as plain text; ids that autoincrement (SQLite only does that for a column
declared exactly ``INTEGER PRIMARY KEY``). A later revision that needs another type
defines it here under a new name; these never change.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

__all__ = ["ID", "JSON_TEXT", "UTC_DATETIME"]

UTC_DATETIME: sa.types.TypeEngine[Any] = sa.DateTime(timezone=True).with_variant(
    sa.String(32), "sqlite"
)
JSON_TEXT: sa.types.TypeEngine[Any] = sa.Text()
ID: sa.types.TypeEngine[Any] = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
