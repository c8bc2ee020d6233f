"""The manifest's per-table policies, apart from the protocol's records.

The manifest needs only these two enums; keeping them here spares a scheduler that loads it
(a Lambda layer) the import of every record type. ``hakiri.core.records`` re-exports both.
"""

from __future__ import annotations

import enum

__all__ = ["SchemaPolicy", "WriteDisposition"]


class WriteDisposition(enum.StrEnum):
    """How committed files combine with what a table already holds."""

    APPEND = "append"
    REPLACE = "replace"
    MERGE = "merge"


class SchemaPolicy(enum.StrEnum):
    """What a table does when a batch's schema differs from its own."""

    EVOLVE = "evolve"
    """Add new columns and widen types; refuse incompatible changes."""
    FREEZE = "freeze"
    """Refuse every change: the run fails and nothing of the batch is written."""
    DISCARD_ROW = "discard_row"
    """Keep the table's schema; drop the rows whose values do not fit it."""
    VARIANT = "variant"
    """Evolve, and keep values of an incompatible type as JSON in ``<column>__variant``."""
