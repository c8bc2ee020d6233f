"""Catalog adapters, found by URL scheme through the ``hakiri.catalogs`` entry points.

Importing this package is cheap; an adapter's module (and SQLAlchemy) loads only when a
catalog of its scheme is opened.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hakiri.core.ports import Catalog, SecretResolver

__all__ = ["catalog_scheme", "open_catalog"]


def catalog_scheme(url: str) -> str:
    """The scheme that picks the adapter: ``sqlite`` for ``sqlite+pysqlite:///…``."""
    scheme, sep, _ = url.partition("://")
    return scheme.split("+", 1)[0].lower() if sep else ""


def open_catalog(url: str, *, secrets: SecretResolver | None = None) -> Catalog:
    """Open the catalog at ``url`` with the adapter registered for its scheme, its
    ``secret://`` references resolved through ``secrets`` (the project's).

    The lookup is core's (``hakiri.core.plugins``), so every member finds adapters the same
    way; an unknown scheme is a ``ConfigError`` that lists the installed adapters.
    """
    from hakiri.core.plugins import open_catalog as open_registered

    return open_registered(url, secrets=secrets)
