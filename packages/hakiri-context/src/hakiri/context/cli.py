"""``hakiri query``: one read-only SQL query over the context store, from the shell.

This module is imported whenever the ``hakiri`` CLI starts, so it imports only click and
core; DuckDB and pyarrow load when the command runs.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from hakiri.core.errors import HakiriError

__all__ = ["query_command"]

_DEFAULT_LIMIT = 1000
_DEFAULT_TIMEOUT = 30.0


@click.command("query")
@click.argument("sql")
@click.option(
    "--project",
    "-p",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Project directory (default: the nearest one holding hakiri.toml).",
)
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=_DEFAULT_LIMIT,
    show_default=True,
    help="Print at most this many rows.",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=_DEFAULT_TIMEOUT,
    show_default=True,
    help="Cancel the query after this many seconds.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json", "csv"]),
    default="table",
    show_default=True,
    help="Output format.",
)
def query_command(sql: str, project: Path | None, limit: int, timeout: float, fmt: str) -> None:
    """Run one read-only SQL query (SELECT or EXPLAIN) over the context store.

    Every table is a view of its committed Parquet files. Pass - as SQL to read it from
    standard input.
    """
    try:
        output = _run(sql, project, limit, timeout, fmt)
    except HakiriError as err:
        click.echo(f"error[{err.code}]: {err.one_line()}", err=True)
        sys.exit(err.exit_code)
    click.echo(output, nl=False)


def _run(sql: str, project: Path | None, limit: int, timeout: float, fmt: str) -> str:
    from hakiri.context.store import open_store
    from hakiri.core.manifest import find_project_root
    from hakiri.core.render import render

    if sql == "-":
        sql = sys.stdin.read()
    root = project if project is not None else find_project_root(Path.cwd())
    with open_store(root) as store:
        result = store.query(sql, limit=limit, timeout=timeout)
    return render(result.table, fmt, limit, truncated=result.truncated)
