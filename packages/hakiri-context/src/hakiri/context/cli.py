"""``hakiri query``: one read-only SQL query over the context store, from the shell.

This module is imported whenever the ``hakiri`` CLI starts, so it imports only click and
core; DuckDB and pyarrow load when the command runs.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from hakiri.core.cli_options import project_option
from hakiri.core.errors import HakiriError

if TYPE_CHECKING:
    from hakiri.context.store import StoreLocation

__all__ = ["query_command"]


@click.command("query")
@click.argument("sql")
@project_option
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=None,
    help="Print at most this many rows (default: [query] max_rows, 1000).",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Stop the query after this many seconds (default: [query] timeout, 30).",
)
@click.option(
    "--max-bytes",
    type=click.IntRange(min=1024),
    default=None,
    help="Cut the answer at this many bytes (default: [query] max_answer_bytes, 16 MiB).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json", "csv"]),
    default="table",
    show_default=True,
    help="Output format.",
)
def query_command(
    sql: str,
    project_dir: Path | None,
    limit: int | None,
    timeout: float | None,
    max_bytes: int | None,
    fmt: str,
) -> None:
    """Run one read-only SQL query (SELECT or EXPLAIN) over the context store.

    Every table is a view of its committed Parquet files. The query runs in a process that
    cannot write any file, within the [query] bounds of hakiri.toml (docs/query-safety.md).
    Pass - as SQL to read it from standard input.
    """
    try:
        output = _run(sql, project_dir, fmt, limit=limit, timeout=timeout, max_bytes=max_bytes)
    except HakiriError as err:
        click.echo(f"error[{err.code}]: {err.one_line()}", err=True)
        sys.exit(err.exit_code)
    # color=True: click would strip escape sequences from piped output, changing CSV data.
    click.echo(output, nl=False, color=True)


def _run(sql: str, project: Path | None, fmt: str, **overrides: float | None) -> str:
    from hakiri.context.sandbox import query_once
    from hakiri.core.render import render

    if sql == "-":
        sql = sys.stdin.read()
    where = _query_target(project)
    limits = where.query
    given = {"timeout": overrides["timeout"], "max_rows": overrides["limit"]}
    given["max_answer_bytes"] = overrides["max_bytes"]
    # The person at the shell may raise a bound as well as lower it.
    limits = limits.model_copy(update={k: v for k, v in given.items() if v is not None})
    result = query_once(where.root, where.catalog_url, sql, limits, where.secrets)
    return render(
        result.table,
        fmt,
        limits.max_rows,
        truncated=result.truncated,
        truncated_by=result.truncated_by,
        max_bytes=int(limits.max_answer_bytes),
    )


def _query_target(project: Path | None) -> StoreLocation:
    """The store, its catalog and the query bounds, from a project (or a bare store)."""
    from hakiri.context.store import locate_store
    from hakiri.core.manifest import find_project_root

    return locate_store(project if project is not None else find_project_root(Path.cwd()))


@click.command("compact")
@click.argument("tables", nargs=-1, required=True)
@project_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON for machines.")
def compact_command(tables: tuple[str, ...], project_dir: Path | None, as_json: bool) -> None:
    """Rewrite merge TABLES as the rows readers see: the newest row per primary key.

    Takes the pipeline's lock (no run commits meanwhile), publishes the compacted files in
    one catalog transaction, keeps the cursor, and deletes the files it replaced.
    """
    import json

    from hakiri.context.compact import compact_table
    from hakiri.core.manifest import find_project_root, load_project

    try:
        root = project_dir if project_dir is not None else find_project_root(Path.cwd())
        loaded = load_project(root)
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
