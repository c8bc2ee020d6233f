"""Plugins: connectors and catalog adapters, found through entry points.

Members register what they provide (``hakiri.connectors``, ``hakiri.catalogs``); core only
knows the group names, never the implementations. A connector named ``scheme:reference``
(``wasm:connectors/github.wasm``) is made by the factory function registered for ``scheme``
in ``hakiri.connector_schemes``, which receives the reference.
"""

from __future__ import annotations

from functools import cache
from importlib.metadata import EntryPoint, entry_points
from typing import Any, cast

from hakiri.core.errors import ConfigError, UnknownConnector
from hakiri.core.ports import Catalog, ConnectorFactory, SecretResolver

__all__ = [
    "connector_factories",
    "connector_names",
    "load_connector",
    "open_catalog",
    "read_only_catalog_url",
]

CONNECTORS_GROUP = "hakiri.connectors"
CATALOGS_GROUP = "hakiri.catalogs"
SCHEMES_GROUP = "hakiri.connector_schemes"


@cache
def _entry_points(group: str) -> dict[str, EntryPoint]:
    return {ep.name: ep for ep in entry_points(group=group)}


def connector_names() -> list[str]:
    return sorted(_entry_points(CONNECTORS_GROUP))


def connector_factories() -> dict[str, ConnectorFactory]:
    """Every installed connector, by name."""
    return {
        name: cast(ConnectorFactory, entry.load())
        for name, entry in sorted(_entry_points(CONNECTORS_GROUP).items())
    }


def load_connector(name: str, *, kind: str, where: str = "") -> ConnectorFactory:
    """The factory of connector ``name``; ``UnknownConnector`` lists what is installed."""
    if ":" in name:
        return _scheme_connector(name, kind=kind, where=where)
    entry = _entry_points(CONNECTORS_GROUP).get(name)
    if entry is None:
        known = ", ".join(connector_names()) or "none"
        prefix = f"{where}: " if where else ""
        raise UnknownConnector(
            f"{prefix}unknown connector {name!r}",
            hint=f"installed connectors: {known}",
            connector=name,
        )
    factory = cast(ConnectorFactory, entry.load())
    if factory.kind != kind:
        prefix = f"{where}: " if where else ""
        raise ConfigError(f"{prefix}connector {name!r} is a {factory.kind}, not a {kind}")
    return factory


def _scheme_connector(name: str, *, kind: str, where: str) -> ConnectorFactory:
    scheme, reference = name.split(":", 1)
    prefix = f"{where}: " if where else ""
    entry = _entry_points(SCHEMES_GROUP).get(scheme)
    if entry is None:
        known = ", ".join(f"{s}:" for s in sorted(_entry_points(SCHEMES_GROUP))) or "none"
        raise UnknownConnector(
            f"{prefix}unknown connector scheme {scheme!r} in {name!r}",
            hint=f"installed schemes: {known}",
            connector=name,
        )
    if not reference:
        raise ConfigError(f"{prefix}connector {name!r} names nothing after {scheme + ':'!r}")
    factory = cast(ConnectorFactory, entry.load()(reference))
    if factory.kind != kind:
        raise ConfigError(f"{prefix}connector {name!r} is a {factory.kind}, not a {kind}")
    return factory


def open_catalog(url: str, *, secrets: SecretResolver | None = None) -> Catalog:
    """Open the catalog at ``url`` with the adapter registered for its scheme.

    A URL that references a secret (a Postgres catalog's ``?password=secret://NAME``) is
    resolved through ``secrets`` — the project's, so its ``.env`` counts as for any other
    ``secret://`` — which the adapter's opener then receives as ``secrets=``; an adapter
    whose URLs never hold a secret is called with the URL alone.
    """
    scheme = url.split(":", 1)[0].split("+", 1)[0]
    entry = _entry_points(CATALOGS_GROUP).get(scheme)
    if entry is None:
        known = ", ".join(sorted(_entry_points(CATALOGS_GROUP))) or "none"
        raise ConfigError(
            f"no catalog adapter for {scheme!r} (catalog = {url!r})",
            hint=f"installed adapters: {known}",
        )
    opener = cast(Any, entry.load())
    if secrets is not None and "secret://" in url:
        return cast(Catalog, opener(url, secrets=secrets))
    return cast(Catalog, opener(url))


def read_only_catalog_url(url: str) -> str:
    """``url`` asking its adapter to open the catalog read-only: the ``mode=ro`` query
    parameter the SQLite and Postgres adapters read (a ``mode`` already there is replaced).
    An in-memory catalog's URL comes back as it is: it lives in this process only.

    What reads a store (queries, ``pipeline list``, the agent's read tools) opens it so:
    nothing it does can write, not even a schema upgrade or the tables of an empty database.
    """
    scheme = url.split(":", 1)[0].split("+", 1)[0].lower()
    if scheme == "memory":
        return url
    base, _, query = url.partition("?")
    kept = [part for part in query.split("&") if part and part.split("=", 1)[0] != "mode"]
    return f"{base}?{'&'.join([*kept, 'mode=ro'])}"
