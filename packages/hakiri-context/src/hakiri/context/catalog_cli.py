"""``hakiri catalog …``: the project's catalog itself — its schema revision, its upgrade.

Imported whenever the ``hakiri`` CLI lists its commands, so it imports only click and core;
SQLAlchemy, Alembic and the adapters load when a command runs. A subcommand kept in
another module joins the group with one ``catalog.add_command(...)`` line at the bottom.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import click

from hakiri.context.catalog_copy_cli import copy_command
from hakiri.core.cli_options import project_option
from hakiri.core.errors import HakiriError

if TYPE_CHECKING:
    from hakiri.context.catalog.migrations import MigratedCatalog, SchemaStatus
    from hakiri.core.ports import SecretResolver

__all__ = ["catalog"]


@click.group("catalog")
def catalog() -> None:
    """The project's catalog: its schema revision, its upgrade, a copy to another backend
    (docs/catalog.md)."""


@catalog.command("status")
@project_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON for machines.")
def status_command(project_dir: Path | None, as_json: bool) -> None:
    """Show the catalog's schema revision and this Hakiri's head revision. Reads only."""
    import json

    try:
        url, found = _status(project_dir)
    except HakiriError as err:
        _fail(err)
    if as_json:
        click.echo(json.dumps({"catalog": url, **found.to_dict()}, indent=2))
        return
    click.echo(f"catalog  {url}")
    click.echo(f"current  {_revision(found)}")
    click.echo(f"head     {found.head}")
    if found.up_to_date:
        click.echo("up to date")
    else:
        click.echo(f"out of date: an upgrade would {_plan(found)} — run `hakiri catalog upgrade`")


@catalog.command("upgrade")
@project_option
def upgrade_command(project_dir: Path | None) -> None:
    """Apply the schema revisions the catalog lacks, in one transaction. A catalog written
    by a newer Hakiri is refused and left as it is; nothing is ever downgraded."""
    try:
        url, found = _status(project_dir)
        if not found.up_to_date:
            _upgrade(project_dir)
    except HakiriError as err:
        _fail(err)
    if found.up_to_date:
        click.echo(f"the catalog at {url} is at the head revision {found.head}: nothing to do")
        return
    click.echo(
        f"upgraded the catalog at {url} from {_revision(found)} to {found.head}: "
        f"{_plan(found, done=True)}"
    )


def _revision(found: SchemaStatus) -> str:
    if found.current is not None:
        return found.current
    return "none (written before schema revisions)" if found.before_alembic else "none"


def _plan(found: SchemaStatus, *, done: bool = False) -> str:
    """What an upgrade from ``found`` does (or did), in words."""
    adopt, apply = ("adopted", "applied") if done else ("adopt", "apply")
    steps = []
    if found.before_alembic:
        steps.append(f"{adopt} it at the baseline revision")
    if found.pending:
        steps.append(f"{apply} " + ", ".join(found.pending))
    return "; ".join(steps)


def _status(project_dir: Path | None) -> tuple[str, SchemaStatus]:
    """The project's catalog URL and its schema status, read through a read-only open."""
    from hakiri.context.store import existing_catalog_url

    url, root, secrets = _catalog_url(project_dir)
    read_only = existing_catalog_url(root, url, read_only=True)
    with _opened(read_only, shown=url, secrets=secrets) as opened:
        return url, opened.schema_status()


def _upgrade(project_dir: Path | None) -> None:
    from hakiri.context.store import existing_catalog_url

    url, root, secrets = _catalog_url(project_dir)
    writable = existing_catalog_url(root, url, read_only=False)
    with _opened(writable, shown=url, secrets=secrets) as opened:
        opened.upgrade_schema()


def _catalog_url(project_dir: Path | None) -> tuple[str, Path, SecretResolver | None]:
    """The catalog of a project directory (or a store directory), its store, and what
    resolves its URL's ``secret://`` references."""
    from hakiri.context.store import locate_store
    from hakiri.core.manifest import find_project_root

    where = locate_store(project_dir if project_dir is not None else find_project_root(Path.cwd()))
    return where.catalog_url, where.root, where.secrets


@contextmanager
def _opened(url: str, *, shown: str, secrets: SecretResolver | None) -> Iterator[MigratedCatalog]:
    """The catalog at ``url``, closed afterwards; ``CatalogError`` for one without schema
    revisions (``memory://``). ``shown`` is its URL as the project wrote it."""
    from hakiri.context.catalog import open_catalog
    from hakiri.context.catalog.migrations import MigratedCatalog
    from hakiri.core.errors import CatalogError

    opened = open_catalog(url, secrets=secrets)
    try:
        if not isinstance(opened, MigratedCatalog):
            raise CatalogError(
                f"the catalog {shown} has no schema revisions",
                hint="only SQL catalogs (sqlite://, postgres://) have them",
            )
        yield opened
    finally:
        opened.close()


def _fail(err: HakiriError) -> NoReturn:
    click.echo(f"error[{err.code}]: {err.one_line()}", err=True)
    sys.exit(err.exit_code)


catalog.add_command(copy_command)
