"""psycopg is the ``postgres`` extra: imported here, on first use, or a clear error."""

from __future__ import annotations

from types import ModuleType

from hakiri.core.errors import MissingDependency

__all__ = ["import_psycopg"]


def import_psycopg() -> ModuleType:
    """The ``psycopg`` module, or ``MissingDependency`` naming the ``postgres`` extra."""
    try:
        import psycopg
    except ImportError as exc:
        raise MissingDependency(
            "the postgres connector needs psycopg, which is not installed",
            hint=(
                "install the postgres extra: pip install 'hakiri-connectors[postgres]' "
                "(or 'hakiri[postgres]' for the hakiri profile)"
            ),
        ) from exc
    return psycopg
