"""``hakiri catalog copy SRC DST``: move a project's catalog to another SQL backend.

Imported when the ``hakiri`` CLI starts (as a command of the ``catalog`` group), so it
imports only click and core; SQLAlchemy and the adapters load when the command runs.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from hakiri.core.errors import HakiriError

if TYPE_CHECKING:
    from hakiri.context.catalog._copy import CopyReport
    from hakiri.core.ports import SecretResolver

__all__ = ["copy_command", "resolve_catalog"]


@click.command("copy")
@click.argument("src")
@click.argument("dst")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for machines.")
def copy_command(src: str, dst: str, as_json: bool) -> None:
    """Copy the catalog SRC into the empty catalog DST, verified by counts and checksums.

    SRC and DST are catalog URLs (sqlite:///…, postgres://…) or directories: a project
    directory means its catalog, a store directory its catalog.db (so `.` is this
    project's). DST is created if missing and must hold no rows; the copy is one
    transaction, so a failure leaves DST empty (docs/catalog.md).
    """
    import json

    from hakiri.context.catalog._copy import copy_catalog

    try:
        (src_url, src_secrets), (dst_url, dst_secrets) = resolve_catalog(src), resolve_catalog(dst)
        report = copy_catalog(src_url, dst_url, src_secrets=src_secrets, dst_secrets=dst_secrets)
    except HakiriError as err:
        click.echo(f"error[{err.code}]: {err.one_line()}", err=True)
        sys.exit(err.exit_code)
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2))
        return
    click.echo(_render(report))


def resolve_catalog(where: str) -> tuple[str, SecretResolver | None]:
    """The catalog URL ``where`` names — a URL as it is, a project or store directory's
    catalog otherwise (``StoreError`` for a directory that is neither) — and what resolves
    its ``secret://`` references (a project's; for a bare URL, the environment)."""
    if "://" in where:
        return where, None
    from hakiri.context.store import locate_store

    location = locate_store(Path(where))
    return location.catalog_url, location.secrets


def _render(report: CopyReport) -> str:
    width = max(len(t.table) for t in report.tables)
    lines = [
        f"{t.table:<{width}}  {t.rows:>9,} {'row ' if t.rows == 1 else 'rows'}  {t.checksum}"
        for t in report.tables
    ]
    lines.append(
        f"copied {report.rows:,} rows in {len(report.tables)} tables from {report.source} to "
        f"{report.destination} in {report.seconds:.2f} s; counts and checksums verified"
    )
    return "\n".join(lines)
