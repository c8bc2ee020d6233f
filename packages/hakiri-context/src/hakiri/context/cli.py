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


@click.command("compact")
@click.argument("tables", nargs=-1, required=True)
@click.option(
    "--project",
    "-p",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Project directory (default: the nearest one holding hakiri.toml).",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON for machines.")
def compact_command(tables: tuple[str, ...], project: Path | None, as_json: bool) -> None:
    """Rewrite merge TABLES as the rows readers see: the newest row per primary key.

    Takes the pipeline's lock (no run commits meanwhile), publishes the compacted files in
    one catalog transaction, keeps the cursor, and deletes the files it replaced.
    """
    import json

    from hakiri.context.compact import compact_table
    from hakiri.core.manifest import find_project_root, load_project

    try:
        loaded = load_project(project if project is not None else find_project_root(Path.cwd()))
        results = [compact_table(loaded, table) for table in tables]
    except HakiriError as err:
        click.echo(f"error[{err.code}]: {err.one_line()}", err=True)
        sys.exit(err.exit_code)
    if as_json:
        click.echo(json.dumps([r.to_dict() for r in results], indent=2))
        return
    for r in results:
        if r.run_id is None:
            click.echo(
                f"{r.table}: already compact — {r.rows_after} rows in {r.files_after} file(s)"
            )
        else:
            click.echo(
                f"{r.table}: {r.rows_before} rows in {r.files_before} files → "
                f"{r.rows_after} rows in {r.files_after} file(s) (run {r.run_id})"
            )
