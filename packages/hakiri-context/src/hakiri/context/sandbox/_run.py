"""The query entry points: length check, the plan from the catalog, a one-shot query."""

from __future__ import annotations

from pathlib import Path

from hakiri.context._views import StorePlan, plan_store
from hakiri.context.files import StoreFiles
from hakiri.context.query import QueryResult
from hakiri.context.sandbox._process import QueryProcess
from hakiri.core.errors import QueryTooLong
from hakiri.core.ports import SecretResolver
from hakiri.core.query_limits import QueryLimits

__all__ = ["check_length", "query_once", "read_plan"]


def check_length(sql: str, limits: QueryLimits) -> None:
    """Refuse SQL longer than the limit, before anything parses it."""
    if len(sql) > limits.max_sql_length:
        raise QueryTooLong(
            f"the SQL is {len(sql):,} characters; at most {limits.max_sql_length:,} are accepted",
            hint="shorten the query, or raise [query] max_sql_length in hakiri.toml",
        )


def read_plan(
    store_root: Path, catalog_url: str, secrets: SecretResolver | None = None
) -> StorePlan:
    """The views of a store's committed files, from its catalog opened read-only
    (``secrets``: what resolves the catalog URL's ``secret://`` references)."""
    from hakiri.context.catalog import open_catalog
    from hakiri.context.store import existing_catalog_url

    url = existing_catalog_url(store_root, catalog_url, read_only=True)
    catalog = open_catalog(url, secrets=secrets)
    try:
        return plan_store(catalog, StoreFiles.local(store_root.resolve()))
    finally:
        catalog.close()


def query_once(
    store_root: Path,
    catalog_url: str,
    sql: str,
    limits: QueryLimits,
    secrets: SecretResolver | None = None,
) -> QueryResult:
    """One query in a fresh query process (which boots while the catalog is read)."""
    check_length(sql, limits)
    process = QueryProcess(limits)
    process.start()
    try:
        plan = read_plan(store_root, catalog_url, secrets)
        return process.run_within(plan, sql, limits)
    finally:
        process.close()
